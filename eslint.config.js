// ESLint flat config: type-aware rules for all TypeScript, plus the project's
// boundary rules (who may spawn processes, who may write to /sys and /proc).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const kernelWriteCall =
  "CallExpression[callee.property.name=/^(writeFile|writeFileSync|appendFile|appendFileSync|open|openSync)$/]";

export default tseslint.config(
  {
    ignores: ["node_modules/**", "dist/**", "test/lab/cache/**", "deviceplugin/generated/**", "**/*.cjs"],
  },
  js.configs.recommended,
  {
    files: ["**/*.ts"],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Only the native client may spawn the helper; only the IPAM executor may
      // spawn IPAM plugins. Everything else reaches the kernel through them.
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "child_process", message: "Spawn through native/client (helper) or cni/lib/exec.ts (IPAM) only" },
            {
              name: "node:child_process",
              message: "Spawn through native/client (helper) or cni/lib/exec.ts (IPAM) only",
            },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector: `${kernelWriteCall} > Literal[value=/^\\/(sys|proc)\\//]`,
          message: "Kernel state changes go through the C helper, never direct writes under /sys or /proc",
        },
        {
          selector: `${kernelWriteCall} > TemplateLiteral > TemplateElement[value.raw=/^\\/(sys|proc)\\//]`,
          message: "Kernel state changes go through the C helper, never direct writes under /sys or /proc",
        },
      ],
    },
  },
  {
    files: ["native/client/**/*.ts", "cni/lib/exec.ts", "test/**/*.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["test/**/*.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
      },
    },
  },
);
