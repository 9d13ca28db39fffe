// Checks Kubernetes manifests against the Kubernetes API schemas, twice over:
// - kubernetes-models' validators (generated from the API's OpenAPI schemas):
//   types, required fields, formats, enums;
// - the same package's TypeScript interfaces, by type-checking each document
//   as an object literal of its kind: TypeScript's excess-property check names
//   every field the API does not have (the validators let unknown fields
//   through, as the API server's non-strict decoding does; `kubectl apply`
//   warns or, with strict field validation, refuses).
// NetworkAttachmentDefinition is a CRD (Multus, NPWG spec v1), not in the
// package: its shape is declared here, with the API's own ObjectMeta.
import path from "node:path";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { ConfigMap, Namespace, Pod, ServiceAccount } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";

interface KindInfo {
  /** The model class, whose validate() runs the API schema. */
  model: new (data: never) => { validate(): void };
  /** The TypeScript interface of the kind and where it comes from. */
  typeName: string;
  typeImport: string;
}

const kinds: Record<string, KindInfo> = {
  "v1/ConfigMap": { model: ConfigMap, typeName: "IConfigMap", typeImport: "kubernetes-models/v1/ConfigMap" },
  "v1/Namespace": { model: Namespace, typeName: "INamespace", typeImport: "kubernetes-models/v1/Namespace" },
  "v1/Pod": { model: Pod, typeName: "IPod", typeImport: "kubernetes-models/v1/Pod" },
  "v1/ServiceAccount": {
    model: ServiceAccount,
    typeName: "IServiceAccount",
    typeImport: "kubernetes-models/v1/ServiceAccount",
  },
  "apps/v1/DaemonSet": { model: DaemonSet, typeName: "IDaemonSet", typeImport: "kubernetes-models/apps/v1/DaemonSet" },
  "k8s.cni.cncf.io/v1/NetworkAttachmentDefinition": {
    model: class {
      constructor(readonly data: { spec?: { config?: unknown } }) {}
      validate(): void {
        const config = this.data.spec?.config;
        if (config !== undefined && typeof config !== "string") throw new Error("spec.config must be a string");
      }
    },
    typeName: "INetworkAttachmentDefinition",
    typeImport: "",
  },
};

/** The NPWG v1 CRD: spec.config is the CNI network config as a JSON string. */
const nadDeclaration = `
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
interface INetworkAttachmentDefinition {
  apiVersion: "k8s.cni.cncf.io/v1";
  kind: "NetworkAttachmentDefinition";
  metadata?: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec?: { config?: string };
}
`;

export interface ManifestDocument {
  /** Where it came from: file (repo-relative) and 0-based document index. */
  file: string;
  index: number;
  data: Record<string, unknown>;
}

export interface ManifestProblem {
  file: string;
  index: number;
  message: string;
}

/** Parses every YAML document of a file; duplicate keys and syntax errors are problems. */
export function parseManifests(file: string, text: string): { docs: ManifestDocument[]; problems: ManifestProblem[] } {
  const docs: ManifestDocument[] = [];
  const problems: ManifestProblem[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    if ("errors" in doc && doc.errors.length > 0) {
      for (const error of doc.errors) problems.push({ file, index, message: `YAML: ${error.message}` });
      return;
    }
    const data: unknown = doc.toJS();
    if (data === null || data === undefined) return; // an empty document (a trailing ---)
    if (typeof data !== "object" || Array.isArray(data)) {
      problems.push({ file, index, message: "a manifest must be a mapping" });
      return;
    }
    docs.push({ file, index, data: data as Record<string, unknown> });
  });
  return { docs, problems };
}

function kindKey(data: Record<string, unknown>): string {
  return `${String(data["apiVersion"])}/${String(data["kind"])}`;
}

/** Runs the API schema validator of each document's kind. */
function validateWithModels(docs: readonly ManifestDocument[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  for (const doc of docs) {
    const info = kinds[kindKey(doc.data)];
    if (info === undefined) {
      problems.push({ ...doc, message: `no schema for ${kindKey(doc.data)} (add the kind to manifest-check.ts)` });
      continue;
    }
    try {
      new info.model(doc.data as never).validate();
    } catch (error) {
      problems.push({ ...doc, message: `schema: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return problems;
}

/**
 * Type-checks each document as `const d: IKind = {...}` in one in-memory
 * TypeScript program, resolved against this repository's node_modules.
 */
function validateWithTypes(docs: readonly ManifestDocument[], repoRoot: string): ManifestProblem[] {
  const virtual = path.join(repoRoot, "test/unit/deploy/__manifests__.ts");
  const imports = new Set<string>();
  const body: string[] = [];
  const owners: { firstLine: number; lastLine: number; doc: ManifestDocument }[] = [];
  for (const doc of docs) {
    const info = kinds[kindKey(doc.data)];
    if (info === undefined) continue;
    if (info.typeImport !== "") imports.add(`import type { ${info.typeName} } from "${info.typeImport}";`);
    const chunk = `export const doc${owners.length}: ${info.typeName} = ${JSON.stringify(doc.data, null, 1)};`.split(
      "\n",
    );
    owners.push({ firstLine: body.length, lastLine: body.length + chunk.length - 1, doc });
    body.push(...chunk);
  }
  const head = [...imports, ...nadDeclaration.split("\n")];
  const source = [...head, ...body].join("\n");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) =>
    name === virtual ? ts.createSourceFile(name, source, version) : getSourceFile(name, version, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === virtual || fileExists(name);
  const program = ts.createProgram([virtual], options, host);
  const problems: ManifestProblem[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (diagnostic.file?.fileName !== virtual || diagnostic.start === undefined) {
      problems.push({ file: "(type check)", index: 0, message });
      continue;
    }
    const line = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line - head.length;
    const owner = owners.find((o) => line >= o.firstLine && line <= o.lastLine);
    const where = owner?.doc ?? { file: "(type check)", index: 0 };
    const at = diagnostic.file.text.slice(diagnostic.start, diagnostic.start + (diagnostic.length ?? 0));
    problems.push({ file: where.file, index: where.index, message: `API types: ${message} (at ${at})` });
  }
  return problems;
}

/** Every problem of the documents: schema validators first, then unknown fields and wrong types. */
export function checkManifests(docs: readonly ManifestDocument[], repoRoot: string): ManifestProblem[] {
  return [...validateWithModels(docs), ...validateWithTypes(docs, repoRoot)];
}
