// A small Prometheus registry (text exposition format 0.0.4): counters and
// gauges with labels. The daemon's metric names are declared here in one place.

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly values: Map<string, { labels: Labels; value: number }>;
}

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  private family(name: string, help: string, type: Family["type"]): Family {
    let f = this.families.get(name);
    if (f === undefined) {
      f = { name, help, type, values: new Map() };
      this.families.set(name, f);
    }
    return f;
  }

  inc(name: MetricName, labels: Labels = {}, by = 1): void {
    const f = this.family(name, HELP[name], "counter");
    const k = key(labels);
    const cur = f.values.get(k);
    f.values.set(k, { labels, value: (cur?.value ?? 0) + by });
  }

  set(name: MetricName, labels: Labels, value: number): void {
    this.family(name, HELP[name], "gauge").values.set(key(labels), { labels, value });
  }

  /** Drops every series of a gauge whose labels include these (a removed pool). */
  drop(name: MetricName, match: Labels): void {
    const f = this.families.get(name);
    if (f === undefined) return;
    for (const [k, v] of f.values) {
      if (Object.entries(match).every(([lk, lv]) => v.labels[lk] === lv)) f.values.delete(k);
    }
  }

  get(name: MetricName, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(key(labels))?.value ?? 0;
  }

  /** Sets the process memory gauges (rss, V8 heap, external, array buffers) to now: called per scrape. */
  sampleMemory(): void {
    const m = process.memoryUsage();
    const areas = {
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
    };
    for (const [area, bytes] of Object.entries(areas)) this.set("accelnet_deviceplugin_memory_bytes", { area }, bytes);
  }

  render(): string {
    let out = "";
    for (const f of this.families.values()) {
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${escape(v)}"`)
          .join(",");
        out += `${f.name}${l === "" ? "" : `{${l}}`} ${value}\n`;
      }
    }
    return out;
  }
}

export const HELP = {
  accelnet_deviceplugin_devices: "Devices per pool by health (Healthy/Unhealthy)",
  accelnet_deviceplugin_allocations_total: "Allocate container requests answered, by pool and result",
  accelnet_deviceplugin_allocated_devices_total: "Devices handed out by Allocate, by pool",
  accelnet_deviceplugin_preferred_allocations_total: "GetPreferredAllocation container requests answered, by pool",
  accelnet_deviceplugin_registrations_total: "Registrations with kubelet, by pool and result",
  accelnet_deviceplugin_listandwatch_streams: "Open ListAndWatch streams, by pool",
  accelnet_deviceplugin_rescans_total: "Inventory rescans, by trigger and result",
  accelnet_deviceplugin_rescan_duration_seconds: "Duration of the last inventory rescan",
  accelnet_deviceplugin_config_reloads_total: "Config reloads, by result",
  accelnet_deviceplugin_errors_total: "Errors, by kind",
  accelnet_deviceplugin_memory_bytes:
    "The daemon's memory by area at scrape time (process.memoryUsage: rss, heapTotal, heapUsed, external, arrayBuffers)",
  accelnet_deviceplugin_node_setup_runs_total:
    "Node setup convergences, by result (unchanged, changed, partial: refusals or failures, error)",
  accelnet_deviceplugin_node_setup_steps_total: "Node setup steps run, by step and result",
  accelnet_deviceplugin_node_setup_pf_state: "Node setup outcome per PF (1 for its state: converged, refused, failed)",
} as const;

export type MetricName = keyof typeof HELP;
