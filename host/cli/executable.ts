// The entry of the self-contained executable in the image (scripts/image-rootfs.sh compiles
// it with `bun build --compile`): one file that is `sart`, or the CNI plugin when it runs
// under the name `sart-cni` (a second name for the same file, as busybox does). The plugin
// is copied to the host's /opt/cni/bin and runs there with no Bun or Node installed.
// Both programs are loaded lazily, so the plugin's start-up does not parse the CLI.
const invokedAs = process.argv0.slice(process.argv0.lastIndexOf("/") + 1);

if (invokedAs === "sart-cni") await import("../cni/main.ts");
else await import("./main.ts");
