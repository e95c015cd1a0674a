/** `flk write [IMAGE] [DEVICE]` (alias `flk dd`): parse arguments, call writeImage. */
import { defineCommand, type Flk } from "../../../core/index.ts";
import { writeImage } from "../write-image.ts";

/** The citty command; `verifyDefault` is `[dd-writer] verify` from flk.toml. */
export function writeCommand(flk: Flk, verifyDefault: boolean) {
  return defineCommand({
    meta: { name: "write", description: "Flash an image to a USB stick: safety checks, durable writes, read-back verify" },
    args: {
      image: { type: "positional", required: false, description: "The image (.iso, .iso.zst, .iso.gz, .iso.xz); default: the single result/iso/*.iso", valueHint: "IMAGE" },
      device: { type: "positional", required: false, description: "The whole disk, e.g. /dev/sdb or /dev/disk/by-id/usb-…; without it, list the candidates", valueHint: "DEVICE" },
      sha256: { type: "string", description: "Refuse unless the image file has this SHA-256 (64 hex digits, or a file of sha256sum output)", valueHint: "HEX|FILE" },
      verify: { type: "boolean", default: verifyDefault, description: "Read the device back and compare (--no-verify to skip)" },
      force: { type: "boolean", default: false, description: "Allow a non-removable disk or a non-ISO image (never a disk in use)" },
    },
    async run({ args }) {
      await writeImage(flk, {
        image: args.image || undefined,
        device: args.device || undefined,
        sha256: args.sha256,
        verify: args.verify !== false,
        force: args.force === true,
      });
    },
  });
}
