// The load generator: a separate process (forked by bench/run.mjs), so the server under test shares nothing with it
// but the machine. It runs autocannon twice per scenario: a warm-up, then, when the runner says "go" (after it has
// read the server's CPU counters), the measured run.
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

function waitFor(type) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      resolve(message);
    };
    process.on('message', onMessage);
  });
}

function run(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    options.onInstance?.(instance);
  });
}

/** Builds autocannon options for one scenario. Returns also a summary of how fixtures were used. */
function scenarioOptions(scenario) {
  const used = { codesExhausted: false, codesUsed: 0, tokens: [] };
  if (scenario.kind === 'static') return { used, options: { requests: scenario.requests } };

  if (scenario.kind === 'codes') {
    // One fresh login code per request, shared by all connections (autocannon gives each connection a copy of
    // `requests`, but setupRequest's closure is shared).
    const codes = JSON.parse(readFileSync(scenario.codesFile, 'utf8'));
    let next = 0;
    let instance;
    const request = {
      method: 'POST',
      path: scenario.path,
      headers: { 'content-type': 'application/json' },
      setupRequest(req) {
        if (next >= codes.length) {
          // Out of codes: stop; the few requests still to go replay the last code (the idempotent path).
          used.codesExhausted = true;
          instance?.stop();
          return { ...req, body: JSON.stringify({ 0: { code: codes[codes.length - 1] } }) };
        }
        used.codesUsed = next + 1;
        return { ...req, body: JSON.stringify({ 0: { code: codes[next++] } }) };
      },
      ...(scenario.collectTokens
        ? {
            onResponse(status, body) {
              if (status !== 200) return;
              const match = /"token":"([^"]+)"/.exec(body);
              if (match) used.tokens.push(match[1]);
            },
          }
        : {}),
    };
    return { used, options: { requests: [request], onInstance: (i) => (instance = i) } };
  }

  if (scenario.kind === 'rotate') {
    // Each request: the next path of `paths` with the next token of a large pool (more tokens than any cache holds).
    const tokens = JSON.parse(readFileSync(scenario.tokensFile, 'utf8'));
    let n = 0;
    const request = {
      method: 'GET',
      path: scenario.paths[0],
      setupRequest(req) {
        const i = n++;
        return { ...req, path: scenario.paths[i % scenario.paths.length], headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } };
      },
    };
    return { used, options: { requests: [request] } };
  }
  throw new Error(`unknown scenario kind ${scenario.kind}`);
}

function summarize(result, elapsedMs) {
  return {
    requests: result.requests.total,
    elapsedMs,
    rps: result.requests.total / (elapsedMs / 1000),
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

process.on('message', async (message) => {
  if (message?.type !== 'run') return;
  try {
    const { url, connections, warmupSec, durationSec, scenario } = message;
    const base = { url, connections, timeout: 10 };
    const { used, options } = scenarioOptions(scenario);
    const { onInstance, ...autocannonOptions } = options;
    let warmup;
    if (warmupSec > 0) {
      const started = performance.now();
      const result = await run({ ...base, ...autocannonOptions, onInstance, duration: warmupSec });
      warmup = summarize(result, performance.now() - started);
    }
    process.send({ type: 'warm', warmup });
    await waitFor('go');
    const started = performance.now();
    const result = await run({ ...base, ...autocannonOptions, onInstance, duration: durationSec });
    const measured = summarize(result, performance.now() - started);
    if (scenario.tokensOut && used.tokens.length > 0) writeFileSync(scenario.tokensOut, JSON.stringify(used.tokens));
    process.send({ type: 'done', warmup, measured, codesUsed: used.codesUsed, codesExhausted: used.codesExhausted, tokensCollected: used.tokens.length });
  } catch (error) {
    process.send({ type: 'error', message: error instanceof Error ? error.stack : String(error) });
  }
});
process.send({ type: 'ready' });
