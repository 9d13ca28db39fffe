// CNI_ARGS ("K1=V1;K2=V2"), parsed leniently: runtimes and Multus send keys no single plugin knows.
// - pairs without "=" and empty pairs are skipped (the Go reference rejects them; we do not fail a pod for it)
// - unknown keys are kept in `all` whether or not IgnoreUnknown is set
// - a key given twice: the last one wins
// - IP= is a comma list; MAC= is kept as given (the mode validates it)

export interface CniArgs {
  /** Every key, last value wins. */
  readonly all: ReadonlyMap<string, string>;
  readonly ignoreUnknown: boolean;
  readonly mac?: string;
  readonly ips: readonly string[];
  readonly k8sPodNamespace?: string;
  readonly k8sPodName?: string;
  readonly k8sPodInfraContainerId?: string;
  readonly k8sPodUid?: string;
}

function truthy(v: string): boolean {
  return ["1", "true"].includes(v.toLowerCase());
}

export function parseCniArgs(text: string | undefined): CniArgs {
  const all = new Map<string, string>();
  for (const pair of (text ?? "").split(";")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    all.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  const ipList = all.get("IP");
  const args: {
    -readonly [K in keyof CniArgs]: CniArgs[K];
  } = {
    all,
    ignoreUnknown: truthy(all.get("IgnoreUnknown") ?? ""),
    ips:
      ipList === undefined
        ? []
        : ipList
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
  };
  const optional = [
    ["MAC", "mac"],
    ["K8S_POD_NAMESPACE", "k8sPodNamespace"],
    ["K8S_POD_NAME", "k8sPodName"],
    ["K8S_POD_INFRA_CONTAINER_ID", "k8sPodInfraContainerId"],
    ["K8S_POD_UID", "k8sPodUid"],
  ] as const;
  for (const [key, field] of optional) {
    const v = all.get(key);
    if (v !== undefined && v !== "") args[field] = v;
  }
  return args;
}
