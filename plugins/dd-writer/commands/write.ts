/** `flk write [IMAGE] [DEVICE…]` (alias `flk dd`): parse arguments, call writeImages. */
import { defineCommand, FlkError, type Flk } from "../../../core/index.ts";
import { isDeviceArg } from "../target.ts";
import { writeImage } from "../write-image.ts";

/** The citty command; `verifyDefault` is `[dd-writer] verify` from flk.toml. */
export function writeCommand(flk: Flk, verifyDefault: boolean) {
  return defineCommand({
    meta: { name: "write", description: "Flash an image to one or several USB sticks: safety checks, durable writes, read-back verify" },
    args: {
      image: { type: "positional", required: false, description: "The image (.iso, .iso.zst, .iso.gz, .iso.xz); default: the single result/iso/*.iso", valueHint: "IMAGE" },
      device: { type: "positional", required: false, description: "The whole disk(s), e.g. /dev/sdb /dev/sdc (written at once); without it, pick one or plug one in", valueHint: "DEVICE…" },
      sha256: { type: "string", description: "Refuse unless the image file has this SHA-256 (64 hex digits, or a file of sha256sum output)", valueHint: "HEX|FILE" },
      verify: { type: "boolean", default: verifyDefault, description: "Read the device back and compare (--no-verify to skip)" },
      force: { type: "boolean", default: false, description: "Allow a non-removable disk or a non-ISO image (never a disk in use)" },
      "wait-for-device": { type: "boolean", default: false, description: "Wait for a disk to be plugged in and write to it (without a terminal: needs --yes)" },
      timeout: { type: "string", description: "With --wait-for-device: give up after this many seconds (default 600)", valueHint: "SECONDS" },
    },
    async run({ args }) {
      const positionals = (args._ as string[] | undefined) ?? [];
      // `flk write /dev/sdb /dev/sdc` writes the default image; otherwise the first positional is IMAGE (also a file under /dev/shm).
      const [image, ...devices]: Array<string | undefined> = isDeviceArg(positionals[0]) ? [undefined, ...positionals] : positionals;
      await writeImage(flk, {
        image: image || undefined,
        device: devices[0],
        devices: devices.slice(1).filter((d): d is string => d !== undefined),
        sha256: args.sha256,
        verify: args.verify !== false,
        force: args.force === true,
        waitForDevice: args["wait-for-device"] === true,
        waitTimeoutMs: parseTimeout(args.timeout),
      });
    },
  });
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new FlkError(`--timeout: expected a number of seconds like 120, got '${value}'.`, "E_USAGE");
  return seconds * 1000;
}

