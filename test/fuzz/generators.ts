// fast-check arbitraries for one fuzz case: a network config (the macvlan grammar, the shared fields,
// SR-IOV and vDPA-shaped configs whose device is not there), the CNI_* environment, and how the
// runtime's DEL follows the ADD. Most values are valid so that ADD gets deep; each field has odd
// values and wrong types beside them, and whole-value tokens (render.ts) stand for things that
// would make a counterexample unreadable or depend on the run: "$MASTER", "$HUGE:100000",
// "$DEEP:6000", "$BYTES:ff".
import fc from "fast-check";
import { SUPPORTED_VERSIONS } from "./invariants.js";

/** Token values, replaced by render.ts. */
export const T = {
  master: "$MASTER",
  peer: "$PEER",
  inner: "$INNER",
  ipamDir: "$IPAMDIR",
  huge: (n: number) => `$HUGE:${n}`,
  deepArray: (n: number) => `$DEEP:${n}`,
  deepObject: (n: number) => `$DEEPOBJ:${n}`,
  rawBytes: (hex: string) => `$BYTES:${hex}`,
};

const wrongType = fc.oneof(
  fc.integer({ min: -5, max: 70000 }),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.constant(["a"]),
  fc.constant({ a: 1 }),
);

/** Strings that have broken parsers before: templates, unicode, surrogates, separators, huge. */
const oddString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "%d",
    "net%d",
    "%s",
    "a%",
    "%",
    "ñet",
    "nét1",
    "💥💥💥💥",
    "\ud800",
    "a\udfffb",
    "\n",
    "a\nb",
    "\u0000",
    "..",
    ".",
    "../x",
    "a/b",
    "a:b",
    "a b",
    "a@b",
    "a;b=c",
    "\u202e",
    "x".repeat(16),
  ),
  fc.constantFrom(T.huge(300), T.huge(100_000), T.deepArray(6000), T.deepObject(6000), T.rawBytes("ff")),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);

const field = <V>(valid: fc.Arbitrary<V>, validWeight = 12) =>
  fc.oneof(
    { arbitrary: valid, weight: validWeight },
    { arbitrary: oddString, weight: 2 },
    { arbitrary: wrongType, weight: 1 },
  );

// ---------------------------------------------------------------- values

export const validMac = fc.constantFrom("02:aa:bb:cc:dd:ee", "02:AA:BB:CC:DD:01", "06:00:00:00:00:01");
const oddMac = fc.constantFrom(
  "zz:zz:zz:zz:zz:zz",
  "01:00:5e:00:00:01",
  "ff:ff:ff:ff:ff:ff",
  "00:00:00:00:00:00",
  "02-aa-bb-cc-dd-ee",
  "02:aa:bb:cc:dd",
  "02:aa:bb:cc:dd:ee:ff",
  "02aabbccddee",
  "2:a:b:c:d:e",
);
const mac = fc.oneof(
  { arbitrary: validMac, weight: 4 },
  { arbitrary: oddMac, weight: 2 },
  { arbitrary: oddString, weight: 1 },
);

const ip = fc.oneof(
  { arbitrary: fc.constantFrom("10.77.0.5", "10.77.0.9/24", "fd00:77::5/64", "10.88.0.5/24"), weight: 3 },
  {
    arbitrary: fc.constantFrom(
      "10.77.0.300",
      "10.77.0.5/33",
      "1.2.3.4",
      "::ffff:10.77.0.5",
      "fd00:77::zz",
      "abc",
      "10.77.0.0",
      "10.77.0.255/24",
      "[fd00::1]",
      "10.77.0.05",
    ),
    weight: 2,
  },
  { arbitrary: oddString, weight: 1 },
);
const ipList = fc.oneof({ arbitrary: fc.array(ip, { maxLength: 3 }), weight: 4 }, { arbitrary: wrongType, weight: 1 });

const subnet = field(fc.constantFrom("10.77.0.0/24", "10.77.0.0/30", "fd00:77::/64", "10.77.0.0/32", "10.77.0.0/33"));
const route = fc.record(
  { dst: field(fc.constantFrom("0.0.0.0/0", "192.168.50.0/24", "::/0")), gw: field(fc.constantFrom("10.77.0.254")) },
  { requiredKeys: ["dst"] },
);
const routes = fc.oneof(
  { arbitrary: fc.array(route, { maxLength: 3 }), weight: 4 },
  { arbitrary: wrongType, weight: 1 },
);

const hostLocal = fc.record(
  {
    type: fc.constant("host-local"),
    subnet,
    gateway: field(fc.constantFrom("10.77.0.1", "fd00:77::1", "10.99.0.1")),
    rangeStart: field(fc.constantFrom("10.77.0.10", "10.77.0.250")),
    rangeEnd: field(fc.constantFrom("10.77.0.20", "10.77.0.5")),
    routes,
    dataDir: fc.constant(T.ipamDir),
  },
  { requiredKeys: ["type", "subnet", "dataDir"] },
);

const hostLocalRanges = fc.record({
  type: fc.constant("host-local"),
  ranges: fc.oneof(
    fc.constant([[{ subnet: "10.77.0.0/24" }], [{ subnet: "fd00:77::/64" }]]),
    fc.array(fc.array(fc.record({ subnet }, { requiredKeys: ["subnet"] }), { maxLength: 2 }), { maxLength: 2 }),
    wrongType,
  ),
  dataDir: fc.constant(T.ipamDir),
});

const staticAddress = fc.record(
  {
    address: field(fc.constantFrom("10.88.0.5/24", "fd00:88::5/64", "10.88.0.5", "10.88.0.5/33")),
    gateway: field(fc.constantFrom("10.88.0.1", "fd00:88::1")),
  },
  { requiredKeys: ["address"] },
);
const staticIpam = fc.record(
  {
    type: fc.constant("static"),
    addresses: fc.oneof(
      { arbitrary: fc.array(staticAddress, { maxLength: 3 }), weight: 4 },
      { arbitrary: wrongType, weight: 1 },
    ),
    routes,
    dns: fc.oneof({ arbitrary: fc.constant({ nameservers: ["10.88.0.53"] }), weight: 6 }, wrongType),
  },
  { requiredKeys: ["type"] },
);

/** An IPAM config with odd extra keys (deep nesting is what broke the rewrite for older IPAM versions). */
const withOddKeys = (ipam: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(
      ipam,
      fc.oneof(
        { arbitrary: fc.constant({}), weight: 4 },
        {
          arbitrary: fc.dictionary(fc.constantFrom("x", "nested", "capabilities", "cniVersion", "name"), oddString, {
            maxKeys: 2,
          }),
          weight: 1,
        },
      ),
    )
    .map(([base, extra]) => ({ ...extra, ...base }));

export const ipam = fc.oneof(
  { arbitrary: withOddKeys(hostLocal), weight: 6 },
  { arbitrary: withOddKeys(hostLocalRanges), weight: 1 },
  { arbitrary: withOddKeys(staticIpam), weight: 3 },
  {
    arbitrary: fc.record({ type: field(fc.constantFrom("nope", "whereabouts", "../host-local", "host-local/x", "")) }),
    weight: 1,
  },
  { arbitrary: wrongType, weight: 1 },
);

// ---------------------------------------------------------------- configs

const masterValue = fc.oneof(
  { arbitrary: fc.constant(T.master), weight: 10 },
  { arbitrary: fc.constantFrom(T.peer, "lo", "fznope0"), weight: 2 },
  { arbitrary: oddString, weight: 2 },
  { arbitrary: wrongType, weight: 1 },
);

const macvlanFields = {
  master: masterValue,
  mode: field(fc.constantFrom("bridge", "private", "vepa", "passthru", "Bridge", "source", "BRIDGE")),
  mtu: field(fc.constantFrom(0, 68, 1400, 1500, 1501, 9000, 67, 1, -1, 65535, 65536, 1.5, 2 ** 53)),
  mac,
  bcqueuelen: field(fc.constantFrom(0, 1000, -1, 2 ** 31, 1.5)),
  logLevel: field(fc.constantFrom("error", "warning", "info", "debug", "trace", "INFO")),
  dns: fc.oneof(
    { arbitrary: fc.constant({ nameservers: ["10.0.0.53"], search: ["x"] }), weight: 6 },
    wrongType,
    fc.constant({ nameservers: [1] }),
  ),
};

const runtimeConfig = fc.oneof(
  {
    arbitrary: fc.record(
      { mac, ips: ipList, deviceID: field(fc.constantFrom("0000:ff:1f.7", "vdpa9")) },
      { requiredKeys: [] },
    ),
    weight: 5,
  },
  { arbitrary: wrongType, weight: 1 },
);
const argsCni = fc.oneof(
  {
    arbitrary: fc.record({ cni: fc.oneof(fc.record({ mac, ips: ipList }, { requiredKeys: [] }), wrongType) }),
    weight: 5,
  },
  { arbitrary: wrongType, weight: 1 },
);

/** Device IDs of nothing on this host: a PCI address with no device, vdpa names, paths, junk. */
export const absentDeviceId = fc.oneof(
  fc.constantFrom("0000:ff:1f.7", "ffff:00:00.0", "0000:af:00.1", "0000:ff:1f.07", "vdpa0", "vdpa-nope", "vdpa9"),
  fc.constantFrom("../../../dev/null", "0000:ff:1f.7/../..", "/sys/bus/pci/devices", "0000:FF:1F.7", "%s"),
  oddString,
  wrongType,
);

const deviceFields = {
  deviceID: absentDeviceId,
  pciBusID: absentDeviceId,
  accelnetMode: field(fc.constantFrom("sriov", "vdpa", "macvlan", "SRIOV", "dpdk")),
  vdpaDriver: field(fc.constantFrom("vhost", "virtio", "vfio")),
  rebind: field(fc.boolean()),
  vlan: field(fc.constantFrom(0, 100, 4094, 4095, -1)),
  vlanQoS: field(fc.constantFrom(0, 3, 8)),
  vlanProto: field(fc.constantFrom("802.1q", "802.1ad", "802.1Q")),
  spoofchk: field(fc.constantFrom("on", "off", "true")),
  trust: field(fc.constantFrom("on", "off", "yes")),
  link_state: field(fc.constantFrom("auto", "enable", "disable", "up")),
  min_tx_rate: field(fc.constantFrom(0, 100, 2 ** 32)),
  max_tx_rate: field(fc.constantFrom(0, 50, 1000)),
  mtu: field(fc.constantFrom(1500, 9000, 67)),
  mac,
};

/** What decides mode selection and where the link's master lives. */
export type Shape = "macvlan" | "macvlan-in-container" | "device";

const cniVersion = fc.oneof(
  { arbitrary: fc.constantFrom(...SUPPORTED_VERSIONS), weight: 12 },
  { arbitrary: fc.constantFrom("", "0.0.1", "2.0.0", "1.0", "v1.0.0", "1.1.0 ", "1.0.0-rc1"), weight: 1 },
  { arbitrary: wrongType, weight: 1 },
);

const someExtraKeys = fc.dictionary(
  fc.constantFrom("x", "capabilities", "prevResult", "args", "linkInContainer", "stateDir", "name", "type"),
  oddString,
  { maxKeys: 2 },
);

/** Mostly none: each odd key alone makes the config invalid, which would keep ADD from getting deep. */
const extraKeys = fc.oneof({ arbitrary: fc.constant({}), weight: 5 }, { arbitrary: someExtraKeys, weight: 1 });

export interface ConfCase {
  shape: Shape;
  /** Undefined: the key is absent. */
  cniVersion?: unknown;
  fields: Record<string, unknown>;
  ipam?: unknown;
  extra: Record<string, unknown>;
  /** Replaces the whole stdin (not JSON, not an object, truncated...). */
  stdin?: string;
}

const conf: fc.Arbitrary<ConfCase> = fc.oneof(
  {
    arbitrary: fc.record(
      {
        shape: fc.constant<Shape>("macvlan"),
        cniVersion,
        fields: fc.record({ ...macvlanFields, runtimeConfig, args: argsCni }, { requiredKeys: ["master"] }),
        ipam,
        extra: extraKeys,
      },
      { requiredKeys: ["shape", "cniVersion", "fields", "extra"] },
    ),
    weight: 12,
  },
  {
    arbitrary: fc.record(
      {
        shape: fc.constant<Shape>("macvlan-in-container"),
        cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
        fields: fc.record({ ...macvlanFields, master: fc.constant(T.inner), linkInContainer: fc.constant(true) }),
        ipam,
        extra: fc.constant({}),
      },
      { requiredKeys: ["shape", "cniVersion", "fields", "extra"] },
    ),
    weight: 2,
  },
  {
    arbitrary: fc.record(
      {
        shape: fc.constant<Shape>("device"),
        cniVersion,
        fields: fc.record(deviceFields, { requiredKeys: [] }),
        ipam,
        extra: extraKeys,
      },
      { requiredKeys: ["shape", "cniVersion", "fields", "extra"] },
    ),
    weight: 4,
  },
  {
    arbitrary: fc
      .constantFrom(
        "",
        "null",
        "[]",
        '"x"',
        "{",
        '{"cniVersion":"1.0.0"',
        "\ufeff{}",
        "{} {}",
        '{"cniVersion":"1.0.0"}\n{}',
      )
      .map((stdin): ConfCase => ({ shape: "macvlan", fields: {}, extra: {}, stdin })),
    weight: 1,
  },
);

// ---------------------------------------------------------------- environment

const containerId = fc.oneof(
  { arbitrary: fc.constantFrom("fuzzc1", "0123456789abcdef".repeat(4)), weight: 20 },
  {
    arbitrary: fc.constantFrom(
      "a%",
      "-x",
      ".",
      "..",
      "a/../b",
      "a@b",
      "a b",
      "ñ",
      "A_b.c-d",
      "x".repeat(300),
      "x".repeat(200),
      "\ud800",
    ),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }), weight: 1 },
);

const ifname = fc.oneof(
  { arbitrary: fc.constantFrom("net1", "eth1"), weight: 20 },
  {
    arbitrary: fc.constantFrom(
      "net%d",
      "%d",
      "a%",
      "ñet",
      "ñññññññ",
      "💥💥💥",
      "x".repeat(15),
      "x".repeat(16),
      "lo",
      ".",
      "..",
      "a:b",
      "a/b",
      "a b",
      "a\tb",
      "\u00a0x",
      "net\n1",
      "\ud800x",
    ),
    weight: 3,
  },
  { arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }), weight: 1 },
);

const argKey = fc.constantFrom(
  "IgnoreUnknown",
  "MAC",
  "IP",
  "K8S_POD_NAME",
  "K8S_POD_NAMESPACE",
  "K8S_POD_INFRA_CONTAINER_ID",
  "K8S_POD_UID",
  "FOO",
  "",
  " MAC ",
  "mac",
);
const argValue = fc.oneof(
  mac.filter((v): v is string => typeof v === "string"),
  fc
    .array(
      ip.filter((v): v is string => typeof v === "string"),
      { minLength: 1, maxLength: 3 },
    )
    .map((l) => l.join(",")),
  fc.constantFrom("1", "true", "0", "", "=", "a=b", "pod-0"),
);
/** CNI_ARGS pairs, rendered with odd separators: repeated keys, bare keys, empty pairs. */
const cniArgs = fc
  .array(fc.tuple(argKey, argValue, fc.constantFrom("=", "", "==")), { maxLength: 5 })
  .chain((pairs) =>
    fc
      .constantFrom(";", ";;")
      .chain((sep) =>
        fc
          .boolean()
          .map(
            (trailing) =>
              pairs.map(([k, v, eq]) => (eq === "" ? k : `${k}${eq}${v}`)).join(sep) + (trailing ? ";" : ""),
          ),
      ),
  );

export type NetnsChoice = "pod" | "missing" | "not-netns" | "relative" | "dotdot" | "unset";
export type PathChoice = "shims" | "unset" | "missing-dir" | "relative";

export interface EnvCase {
  containerId?: string;
  ifname?: string;
  cniArgs?: string;
  netns: NetnsChoice;
  cniPath: PathChoice;
}

const env: fc.Arbitrary<EnvCase> = fc.record(
  {
    containerId,
    ifname,
    cniArgs,
    netns: fc.oneof(
      { arbitrary: fc.constant<NetnsChoice>("pod"), weight: 20 },
      fc.constantFrom<NetnsChoice>("missing", "not-netns", "relative", "dotdot", "unset"),
    ),
    cniPath: fc.oneof(
      { arbitrary: fc.constant<PathChoice>("shims"), weight: 20 },
      fc.constantFrom<PathChoice>("unset", "missing-dir", "relative"),
    ),
  },
  { requiredKeys: ["containerId", "ifname", "netns", "cniPath"] },
);

// ---------------------------------------------------------------- DEL

/** How the runtime's DEL differs from the ADD: by default not at all (same stdin, same env). */
export interface DelCase {
  /** "gone": the pod netns is deleted before DEL (the pod died); "unset": DEL without CNI_NETNS. */
  netns: "same" | "gone" | "unset";
  /** A config that changed since ADD: a deviceID added, another mode, the IPAM section removed. */
  change: "none" | "deviceID" | "accelnetMode-sriov" | "mode" | "no-ipam";
  /** A second DEL after the first (runtimes retry; DEL is idempotent). */
  twice: boolean;
}

const del: fc.Arbitrary<DelCase> = fc.record({
  netns: fc.oneof(
    { arbitrary: fc.constant<DelCase["netns"]>("same"), weight: 8 },
    fc.constantFrom<DelCase["netns"]>("gone", "unset"),
  ),
  change: fc.oneof(
    { arbitrary: fc.constant<DelCase["change"]>("none"), weight: 12 },
    fc.constantFrom<DelCase["change"]>("deviceID", "accelnetMode-sriov", "mode", "no-ipam"),
  ),
  twice: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, fc.constant(true)),
});

export interface FuzzCase {
  conf: ConfCase;
  env: EnvCase;
  del: DelCase;
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({ conf, env, del });
