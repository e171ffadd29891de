// Stand-in for `sharp` in production bundles (see scripts/build.mjs). transformers.js imports sharp at load time and
// only checks that it is there; it is called only to decode or resize images, which a tokenizer never does. Shipping
// the real sharp would mean a native libvips per platform in every VSIX.
'use strict';
function sharp() {
  throw new Error('Image processing (sharp) is not included in the Local GPT-2 extension.');
}
module.exports = sharp;
module.exports.default = sharp;
