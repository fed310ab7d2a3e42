// Deno 2.6+: the compiled module, from the module graph (no --allow-read). Only deno.js
// loads this file, dynamically, so a runtime that cannot parse it fails here alone.
import source wasm from "./linegate.wasm";

export default wasm;
