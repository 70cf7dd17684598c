/** The environment for a child process a test starts (a real Parley to kill): this one's, plus overrides. */
export function childEnvironment(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
