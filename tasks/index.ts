/** Every task group, one file each. Task actions import the client library lazily, so the config
 * loads before contracts are compiled. */
import "./bench";
import "./simulate";
import "./cycle";
import "./market";
import "./participants";
import "./wallet";
import "./bids";
import "./history";
