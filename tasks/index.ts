/** Every task group, one file each. Task actions import the client library lazily, so the config
 * loads before contracts are compiled (each action compiles them first when their types are missing). */
import { installCommandLineErrors } from "./cli";
import "./bench";
import "./simulate";
import "./cycle";
import "./market";
import "./participants";
import "./meters";
import "./keys";
import "./wallet";
import "./bids";
import "./history";

installCommandLineErrors();
