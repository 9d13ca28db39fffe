// The release version, printed by `accelnet-deviceplugin --version` and kept equal to package.json's
// (a unit test checks), so an image's binaries can be told apart without the package manifest.
export const ACCELNET_VERSION = "0.1.0";
