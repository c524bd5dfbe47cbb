import { execFileSync } from "node:child_process";
import path from "node:path";

/**
 * Writes `tinypkg-1.0-py3-none-any.whl` (a module `tinypkg` with `VALUE = '42'`) into `dir`, built
 * by hand because PyPI is not reachable here: pip installs it with `PIP_NO_INDEX=1 PIP_FIND_LINKS=dir`.
 */
export function buildTinyWheel(dir: string): string {
  const file = path.join(dir, "tinypkg-1.0-py3-none-any.whl");
  const script = `
import sys, zipfile, base64, hashlib
files = {"tinypkg/__init__.py": "VALUE = '42'\\n",
         "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: tinypkg\\nVersion: 1.0\\n",
         "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
record = []
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text)}")
    record.append("tinypkg-1.0.dist-info/RECORD,,")
    z.writestr("tinypkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
`;
  execFileSync("python3", ["-c", script, file]);
  return file;
}
