export * from "./bcd";
export * from "./dataIdentifiers";
export * from "./errors";
export * from "./frame";
export * from "./messages";
