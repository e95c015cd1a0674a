/**
 * flk keys add / list / rm as library calls on a throwaway site, with
 * ssh-keygen generating the keys and reading back what flk stored.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { addKeys } from "../../../plugins/ssh-keys/add.ts";
import { removeKey } from "../../../plugins/ssh-keys/remove.ts";
import { listKeys } from "../../../plugins/ssh-keys/list.ts";
import { captureOutput, keygen, makeFlk, makeSite, sh, sshKeygenList } from "./helpers.ts";
import { refusal } from "../../helpers/refusal.ts";

const it = systemTest(["ssh-keygen"], { root: false });

let site: ReturnType<typeof makeSite>;
let keys: string;
beforeEach(() => {
  site = makeSite();
  keys = join(site.root, "input");
  mkdirSync(keys);
});
afterEach(() => site.cleanup());

const pub = (file: string) => readFileSync(`${file}.pub`, "utf8");
const stored = () => (existsSync(join(site.root, "secrets/keys")) ? readdirSync(join(site.root, "secrets/keys")).sort() : []);

it("stores a key under its comment and lists it exactly as ssh-keygen -lf reads the stored file", async () => {
  const flk = makeFlk(site.root);
  const key = keygen(keys, "alice", "ed25519", undefined, "alice@laptop");
  const { value: added } = await captureOutput(() => addKeys(flk, { text: pub(key), source: `${key}.pub` }));
  expect(added!.map((k) => k.file)).toEqual(["secrets/keys/alice@laptop.pub"]);
  const listed = listKeys(flk, []);
  const oracle = sshKeygenList(join(site.root, "secrets/keys/alice@laptop.pub")).lines;
  expect(listed.map((k) => `${k.bits} ${k.fingerprint} ${k.comment} (${k.type})`)).toEqual(oracle);
  expect(listed[0]).toMatchObject({ name: "alice@laptop", type: "ED25519", bits: 256, comment: "alice@laptop", file: "secrets/keys/alice@laptop.pub" });
});

it("stores every key of a multi-line input under --name, keeping the options prefix", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  const b = keygen(keys, "b", "ecdsa", 521);
  const text = `# two keys\n${pub(a)}\r\nno-pty,from="10.0.0.0/8" ${pub(b)}`;
  await captureOutput(() => addKeys(flk, { text, source: "-", name: "ops" }));
  expect(stored()).toEqual(["ops.pub"]);
  const file = readFileSync(join(site.root, "secrets/keys/ops.pub"), "utf8");
  expect(file).toBe(`${pub(a).trim()}\nno-pty,from="10.0.0.0/8" ${pub(b).trim()}\n`);
  expect(sshKeygenList(join(site.root, "secrets/keys/ops.pub")).lines).toHaveLength(2);
});

it("refuses a key that is already stored, naming the existing key, and writes nothing", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519", undefined, "alice");
  const b = keygen(keys, "b", "ed25519", undefined, "bob");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub" }));
  const error = await refusal(() => addKeys(flk, { text: pub(b) + pub(a).replace("alice", "other"), source: "both.pub", name: "team" }));
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain("is already stored as 'alice' (secrets/keys/alice.pub:1)");
  expect(stored()).toEqual(["alice.pub"]);
});

it("refuses the same key twice in one input", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  const error = await refusal(() => addKeys(flk, { text: pub(a) + pub(a), source: "x.pub" }));
  expect(error.message).toContain("repeated in the input (line 1)");
  expect(stored()).toEqual([]);
});

it("refuses an RSA key under 2048 bits unless --allow-weak", async () => {
  const flk = makeFlk(site.root);
  const weak = keygen(keys, "weak", "rsa", 1024, "old");
  const error = await refusal(() => addKeys(flk, { text: pub(weak), source: "weak.pub" }));
  expect(error.message).toContain("1024 bits, under the 2048-bit minimum");
  expect(error.message).toContain("--allow-weak");
  expect(stored()).toEqual([]);
  await captureOutput(() => addKeys(flk, { text: pub(weak), source: "weak.pub", allowWeak: true }));
  expect(stored()).toEqual(["old.pub"]);
});

it("refuses a certificate with a clear message", async () => {
  const flk = makeFlk(site.root);
  const ca = keygen(keys, "ca", "ed25519");
  const a = keygen(keys, "a", "ed25519");
  sh(["ssh-keygen", "-q", "-s", ca, "-I", "id", `${a}.pub`]);
  const error = await refusal(() => addKeys(flk, { text: readFileSync(`${a}-cert.pub`, "utf8"), source: "a-cert.pub" }));
  expect(error.message).toContain("is an OpenSSH certificate (ED25519-CERT)");
  expect(stored()).toEqual([]);
});

it("refuses a whole input when one line is bad, saying which line", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  const error = await refusal(() => addKeys(flk, { text: `${pub(a)}\nssh-ed25519 AAAA!!\n`, source: "x.pub" }));
  expect(error.message).toContain("x.pub:3: the key data is not valid base64");
  expect(stored()).toEqual([]);
});

it("warns about a UTF-8 BOM and stores the key without it", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519", undefined, "bom");
  const { output } = await captureOutput(() => addKeys(flk, { text: "\uFEFF" + pub(a), source: "a.pub" }));
  expect(output).toContain("removed a UTF-8 byte order mark");
  expect(readFileSync(join(site.root, "secrets/keys/bom.pub"), "utf8")).toBe(pub(a));
});

it("validates names: no '/', no '..', and a comment-less key needs --name", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519", undefined, "");
  for (const name of ["../evil", "a/b", "..", ".hidden", ""]) {
    const error = await refusal(() => addKeys(flk, { text: pub(a), source: "a.pub", name }));
    expect(error.message).toContain("expected a key name like alice");
  }
  expect((await refusal(() => addKeys(flk, { text: pub(a), source: "a.pub" }))).message).toContain("no usable comment");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub", name: "carol.pub" }));
  expect(stored()).toEqual(["carol.pub"]);
});

it("sanitises a comment into a file name", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519", undefined, "Alice Smith / work laptop");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub" }));
  expect(stored()).toEqual(["Alice-Smith-work-laptop.pub"]);
});

it("appends a new key to an existing name", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  const b = keygen(keys, "b", "ed25519");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub", name: "alice" }));
  const { value } = await captureOutput(() => addKeys(flk, { text: pub(b), source: "b.pub", name: "alice" }));
  expect(value![0]!.line).toBe(2);
  expect(sshKeygenList(join(site.root, "secrets/keys/alice.pub")).lines).toHaveLength(2);
});

it("removes a key durably; an unknown name is refused with a did-you-mean", async () => {
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub", name: "alice" }));
  const error = await refusal(() => removeKey(flk, "alcie"));
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain("Did you mean `alice`?");
  expect(stored()).toEqual(["alice.pub"]);
  const { value } = await captureOutput(() => removeKey(flk, "alice"));
  expect(value!.map((k) => k.name)).toEqual(["alice"]);
  expect(stored()).toEqual([]);
});

const withGit = systemTest(["ssh-keygen", "git"], { root: false });
withGit("--git-add stages the written file and the removal", async () => {
  sh(["git", "-C", site.root, "init", "-q"]);
  const flk = makeFlk(site.root);
  const a = keygen(keys, "a", "ed25519");
  await captureOutput(() => addKeys(flk, { text: pub(a), source: "a.pub", name: "alice", gitAdd: true }));
  expect(sh(["git", "-C", site.root, "ls-files", "--cached", "secrets"]).trim()).toBe("secrets/keys/alice.pub");
  await captureOutput(() => removeKey(flk, "alice", { gitAdd: true }));
  expect(sh(["git", "-C", site.root, "ls-files", "--cached", "secrets"]).trim()).toBe("");
});

it("lists keyFiles from flk.toml next to the store and warns about broken files", async () => {
  const a = keygen(keys, "a", "ed25519", undefined, "extra");
  writeFileSync(join(site.root, "extra.pub"), pub(a));
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  writeFileSync(join(site.root, "secrets/keys/broken.pub"), "ssh-ed25519 AAAA\n");
  const flk = makeFlk(site.root, { keyFiles: ["extra.pub", "missing.pub"] });
  const { value, output } = await captureOutput(() => listKeys(flk, ["extra.pub", "missing.pub"]));
  expect(value!.map((k) => [k.name, k.file])).toEqual([["extra", "extra.pub"]]);
  expect(output).toContain("secrets/keys/broken.pub:1:");
  expect(output).toContain("missing.pub does not exist");
});
