/** meter-bridge as a library: the codec, the framing parser, the bus, the simulator and the daemon's parts. */
export * from "./codec";
export { Dlt645Parser, Dlt645ParserOptions, InvalidFrame, AcceptedFrames } from "./parser";
export { MeterBus, MeterError, BusOptions, BusPort, Reading } from "./bus";
export { MeterSimulator, SimulatedMeter, SimulatorOptions, Registers } from "./simulator";
export { DEFAULT_LINE, LineOptions, Parity, lineOptions, openSerialPort, transmitMs } from "./line";
export { Journal } from "./journal";
export { MeterPoster, PosterOptions } from "./poster";
export { BatchPoster, BatchPosterOptions, PortMeters } from "./batchPoster";
export { MARKET_ABI, READING_TYPES, marketDomain, refusalKind } from "./abi";
export { loadConfig, BridgeConfig } from "./config";
export { runBridge } from "./daemon";
export { PortReader } from "./reader";
export { MarketTiming } from "./clock";
export { readRecordAt, RecoveredReading } from "./recovery";
export { readClockOffset, broadcastTime } from "./meterClock";
export { NodePool } from "./rpc";
export { ChainWatcher, Reorg, readBatchSupport, readMarket } from "./chain";
export { SettingsError } from "./settings";
