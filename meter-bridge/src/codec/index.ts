export * from "./bcd";
export * from "./calendar";
export * from "./dataIdentifiers";
export * from "./errors";
export * from "./frame";
export * from "./messages";
export * from "./loadRecord";
