import type { ProviderSchema } from "../fields/field-context.js";
import { appEnvironmentFields, appField, argsField, fileField, renamedToFile, targetField } from "../fields/shared-fields.js";

/** Application providers (parsed and validated; not executable yet). */

/** `streamlit`: `streamlit run TARGET` (2022 called the script `target`; `file` is accepted too). */
export const streamlitProvider: ProviderSchema = {
  id: "streamlit",
  fields: { target: targetField, file: fileField, args: argsField, ...appEnvironmentFields },
  required: [{ canonical: "file", key: "target", example: "target: app.py" }],
};

/** `gradio`: runs a Gradio app `file`. */
export const gradioProvider: ProviderSchema = {
  id: "gradio",
  fields: { file: fileField, script: renamedToFile, args: argsField, ...appEnvironmentFields },
  required: [{ canonical: "file", key: "file", example: "file: app.py" }],
};

/** `fastapi`: serves `app` (`module:attribute`) with uvicorn. */
export const fastapiProvider: ProviderSchema = {
  id: "fastapi",
  fields: { app: appField, ...appEnvironmentFields },
  required: [{ canonical: "app", key: "app", example: "app: main:app" }],
};
