import { describe, expect, it } from "@jest/globals";
import { EXECUTABLE_PROVIDERS, unsupportedProviderMessage } from "../../src/workflow/index.js";

describe("providers", () => {
  it("runs python, bash, docker and curl", () => {
    expect([...EXECUTABLE_PROVIDERS]).toEqual(["python", "bash", "docker", "curl"]);
  });

  it("says why the others cannot run yet", () => {
    expect(unsupportedProviderMessage("torchrun")).toBe(
      "provider `torchrun` is not supported yet: dstack-app runs `python`, `bash`, `docker` and `curl` workflows; `torchrun` workflows are only validated",
    );
    expect(unsupportedProviderMessage("hello")).toContain("custom provider (`.dstack/providers.yaml`), which is not supported yet");
    expect(unsupportedProviderMessage("ivan-bokov/dstack-test-providers/pytorch-ddp")).toContain("comes from another repository");
  });
});
