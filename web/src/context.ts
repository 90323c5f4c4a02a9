import { createContext } from "preact";
import type { MarketClient } from "./chain";

export const ClientContext = createContext<MarketClient>(null as unknown as MarketClient);
