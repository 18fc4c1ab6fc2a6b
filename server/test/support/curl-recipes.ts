import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { responseBodies } from './server.ts';

/** The testers' curl recipe scripts (scripts/), which the README shows. */
export type CurlScript = 'curl-recipes.sh' | 'curl-round2.sh';

/** The path of one of scripts/' curl recipe scripts. */
export const curlScriptPath = (script: CurlScript) => fileURLToPath(new URL(`../../../scripts/${script}`, import.meta.url));

/** Runs a curl recipe script against a server (`base`, its root URL); what it prints is scanned for WeChat secrets after the file. */
export function runRecipes(base: string, script: CurlScript): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [curlScriptPath(script), base], { timeout: 60_000 }, (error, stdout, stderr) => {
      responseBodies.push(stdout, stderr);
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
