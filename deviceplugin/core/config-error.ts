// A configuration problem, located by its JSON path (e.g. resourceList[1].selectors.vendors[0]).

export class ConfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(path === "" ? `Invalid config: ${message}` : `Invalid config at "${path}": ${message}`);
    this.name = "ConfigError";
    this.path = path;
  }
}
