'use strict';
// Stands in for pino's sonic-boom and thread-stream in the shim bundle (scripts/build.mjs). The
// shim always hands pino its own stream (src/shim/log.ts), so pino never builds a destination or a
// transport; requiring them loaded node:assert (sonic-boom) and thread-stream's code into every
// daemon. pino only checks `instanceof` against this class, which is never true.
module.exports = class PinoUnusedStream {
  constructor() {
    throw new Error('the shim gives pino its own stream; pino destinations and transports are not bundled');
  }
};
