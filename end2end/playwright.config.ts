import { defineConfig } from '@playwright/test';

const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100);
const reauthPort = port + 1;
// The DNS server of Verified domains (end2end/dns/server.mjs) and its control.
const dnsPort = port + 10;
const dnsControlPort = port + 11;
// Debian's chromium: Playwright cannot download its own browser on these machines.
const executablePath = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  webServer: [
    {
      command: 'node dns/server.mjs',
      url: `http://127.0.0.1:${dnsControlPort}/healthz`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'pipe' as const,
      stderr: 'pipe' as const,
      env: { DNS_PORT: String(dnsPort), CONTROL_PORT: String(dnsControlPort) },
    },
    server(port, {}),
    // Sensitive actions ask to confirm access 8 seconds after signing in instead of 10
    // minutes: confirm_access.spec.ts drives Confirm access in a browser without a long wait.
    server(reauthPort, { GATEHOUSE_REAUTH_WINDOW: '8' }),
  ],
});

function server(at: number, env: Record<string, string>) {
  return {
    command: './start-server.sh',
    url: `http://127.0.0.1:${at}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: 'pipe' as const,
    stderr: 'pipe' as const,
    env: { ...env, GATEHOUSE_E2E_PORT: String(at), GATEHOUSE_DNS_SERVER: `127.0.0.1:${dnsPort}` },
  };
}
