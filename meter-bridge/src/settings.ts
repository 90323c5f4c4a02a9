/** A setting that cannot work (the config, a key, the chain or market it names, a required port): the bridge stops with this one line, exit code 2. */
export class SettingsError extends Error {}
