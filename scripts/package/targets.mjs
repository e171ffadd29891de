// VSIX targets and the onnxruntime-node files each one needs.

/** Packages resolved from node_modules at run time (the native ONNX Runtime binding); everything else is bundled. */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'onnxruntime-common'];

/** vsce target -> Node's process.platform / process.arch, which is how onnxruntime-node lays out its binaries. */
export const TARGETS = {
  'linux-x64': { platform: 'linux', arch: 'x64' },
  'linux-arm64': { platform: 'linux', arch: 'arm64' },
  'darwin-arm64': { platform: 'darwin', arch: 'arm64' },
  'darwin-x64': { platform: 'darwin', arch: 'x64' },
  'win32-x64': { platform: 'win32', arch: 'x64' },
  'win32-arm64': { platform: 'win32', arch: 'arm64' },
};

/** The folder (relative to the onnxruntime-node package) that dist/binding.js loads its addon from. */
export const bindingDir = ({ platform, arch }) => `bin/napi-v6/${platform}/${arch}`;

/**
 * Files in a platform's binary folder that nothing loads. The npm tarball cannot hold symlinks, so the macOS
 * `libonnxruntime.1.30.0.dylib` -> `libonnxruntime.1.dylib` link arrives as a second 44 MB copy; the addon links
 * `@rpath/libonnxruntime.1.dylib` only (its only libonnxruntime load command), so the versioned copy stays out.
 */
export const unusedBinary = (platform, file) => platform === 'darwin' && /^libonnxruntime\.\d+\.\d+\.\d+\.dylib$/.test(file);

/** Where `npm run package` writes the VSIX files (relative to the repository), and what it names them. */
export const VSIX_DIR = 'dist-vsix';
export const vsixName = (pkg, target) => `${pkg.name}-${target}-${pkg.version}.vsix`;

/** The target of the machine running this script, if it is one we build. */
export function hostTarget() {
  return Object.keys(TARGETS).find((t) => TARGETS[t].platform === process.platform && TARGETS[t].arch === process.arch);
}
