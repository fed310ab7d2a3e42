// Stopping a process started under its own process group (setsid / `detached: true`), as
// `wrangler dev` must be: its workerd child is in the group too.

/** SIGTERM to the group, then SIGKILL if it has not exited within `graceMs`. */
export async function stopGroup(child, graceMs = 10_000) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  const exited = await Promise.race([
    new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(true) : child.once("exit", () => r(true)))),
    new Promise((r) => setTimeout(() => r(false), graceMs)),
  ]);
  if (!exited) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
}
