import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEATURES } from "../../src/model/features.ts";
import { modelVersion, validateModel } from "../../src/model/model.ts";
import { REPO_ROOT } from "../../src/paths.ts";
import { CHROMIUM_ARGS, findChromium } from "../support/browser.ts";
import { usePipeline } from "../support/pipeline.ts";

/*
 * Issue 14: the analyst console in a real browser (Debian's chromium through playwright-core) —
 * sign in with an analyst key, see a case appear live after a POST, open it, resolve it as fraud
 * with block-user, and see the user's next transaction declined. Skipped (and counted as skipped)
 * when no chromium can be had. CONSOLE_SCREENSHOT=1 writes docs/console.png for the README.
 */

const ANALYST = "analyst-key-000000001";
const ADMIN = "admin-key-00000000001";
const executablePath = findChromium(); // .ci/run installs it when missing

describe.skipIf(!executablePath)("the analyst console in Chromium", () => {
  const p = usePipeline({
    TOPIC_TRANSACTIONS_PARTITIONS: "2",
    AUTH_DISABLED: "",
    API_KEYS: `analyst:ann:${ANALYST},${ADMIN}`,
  });
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    p.request(method, path, { key: ADMIN, body, headers });

  async function post(user: string, amount: string) {
    const res = await call(
      "POST",
      "/transaction",
      { transaction_id: randomUUID(), user_id: user, amount, currency: "USD", country: "US" },
      { prefer: "wait=10" },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as {
      transaction_id: string;
      decision: { decision: string; reasons: string[] };
    };
  }

  /** A US profile with limits no test payment reaches. */
  async function profile(user: string, riskTier: "low" | "high") {
    const res = await call("PUT", `/users/${user}/profile`, {
      risk_tier: riskTier,
      home_country: "US",
      currency: "USD",
      per_transaction_limit: "5000.00",
      daily_limit: "100000.00",
    });
    expect(res.status).toBe(200);
  }

  it("signs in, shows a new case live, resolves it as fraud blocking the user; the next transaction is declined", async () => {
    const user = "console-user";
    await profile(user, "high");
    for (const amount of ["12.00", "80.00", "45.50"])
      expect((await post(user, amount)).decision.decision).toBe("approve");

    const page: Page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${p.base}/console`);
    await page.fill("#key", "not-a-key-at-all-000");
    await page.click("button[type=submit]");
    await expect.poll(() => page.textContent("#sign-in-error")).toContain("Unknown key");
    await page.fill("#key", ANALYST);
    await page.click("button[type=submit]");
    await page.waitForSelector("#app:not([hidden])");
    // The name is the key's (issue 20), shown as who is signed in.
    await expect.poll(() => page.textContent("#analyst")).toBe("ann");
    await page.waitForSelector("#live.on", { timeout: 10_000 });

    // A review arrives while the console is open: it appears without a reload.
    const review = await post(user, "1800.00");
    expect(review.decision.decision).toBe("review");
    const row = page.locator(`#queue-rows tr[data-transaction-id="${review.transaction_id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.click();
    await page.waitForSelector("#case-body:not([hidden])");
    await expect.poll(() => page.textContent("#case-reasons")).toContain("high_risk_large_amount");
    await expect.poll(() => page.locator("#history-rows tr").count()).toBe(4);
    await expect.poll(() => page.locator("#chart circle").count()).toBe(4);

    await page.keyboard.press("c"); // claim
    await expect.poll(() => page.textContent("#case-assignee")).toBe("ann");
    if (process.env.CONSOLE_SCREENSHOT === "1") {
      await page.screenshot({ path: join(REPO_ROOT, "docs/console.png"), fullPage: true });
    }
    await page.check("#block");
    await page.click("#fraud");
    await expect.poll(() => page.textContent("#case-status")).toContain("resolved · fraud");
    await expect
      .poll(() => page.locator(`#queue-rows tr[data-transaction-id="${review.transaction_id}"]`).count())
      .toBe(0);

    const next = await post(user, "5.00");
    expect(next.decision.decision).toBe("decline");
    expect(next.decision.reasons).toContain("user_blocked");

    await page.keyboard.press("p");
    await expect.poll(() => page.textContent("#perf-rows")).toContain("high_risk_large_amount");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a hostile name as text and runs no script from data; /console sends a strict policy (issue 20)", async () => {
    // Before issue 20 the assignee went through innerHTML in every open console: the image's
    // onerror ran in another analyst's page, which holds that analyst's key.
    const hostile = "<img src=x onerror=window.__xss=1>";
    const review = await post(`xss-user-${randomUUID().slice(0, 8)}`, "10.00"); // no profile: review
    expect(review.decision.decision).toBe("review");
    const refused = await call("POST", `/cases/${review.transaction_id}/claim`, { analyst: hostile });
    expect(refused.status).toBe(400);
    // However it got there (an older version, a direct write), data is shown as text.
    await p.db.query("UPDATE cases SET status = 'claimed', assignee = $1 WHERE transaction_id = $2", [
      hostile,
      review.transaction_id,
    ]);

    const res = await fetch(`${p.base}/console/`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");

    const page: Page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${p.base}/console`);
    await page.fill("#key", ANALYST);
    await page.click("button[type=submit]");
    const row = page.locator(`#queue-rows tr[data-transaction-id="${review.transaction_id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain(hostile);
    expect(await page.locator("#queue-rows img").count()).toBe(0);
    await page.waitForTimeout(300); // an image error would have fired by now
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows every open case, not the newest 200, and reloads at most once a second in a burst (issue 20)", async () => {
    // Before issue 20 the queue read the newest 200 cases and reloaded once per event.
    const page: Page = await browser.newPage();
    await page.goto(`${p.base}/console`);
    await page.fill("#key", ANALYST);
    await page.click("button[type=submit]");
    await page.waitForSelector("#live.on", { timeout: 10_000 });
    let reloads = 0;
    page.on("request", (r) => {
      if (r.url().includes("/cases?status=open")) reloads++;
    });
    const started = Date.now();
    const ids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      // 50 reviews at once (users without a profile), five times: 250 open cases.
      const posted = await Promise.all(
        Array.from(
          { length: 50 },
          async () => (await post(`burst-${randomUUID().slice(0, 12)}`, "10.00")).transaction_id,
        ),
      );
      ids.push(...posted);
    }
    const last = page.locator(`#queue-rows tr[data-transaction-id="${ids.at(-1)}"]`);
    // Generous: 250 reviews go through the whole pipeline on a CI box running other files beside
    // this one (a 15 s wait timed out there once); the reload bound below scales with the time taken.
    await last.waitFor({ timeout: 45_000 });
    const first = page.locator(`#queue-rows tr[data-transaction-id="${ids[0]}"]`);
    await expect.poll(() => first.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator("#queue-rows tr").count()).toBeGreaterThanOrEqual(250);
    const seconds = (Date.now() - started) / 1000;
    expect(reloads).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    await page.close();
  });

  it("shows a model's version, score and top contributions in the case view (issue 24)", async () => {
    // A hand-made model: one split on the amount, so the score and the explanation are known
    // (0.8022 above 1,000: the default set's model_high_risk reviews it; amount_log +1.40).
    const document = {
      format: 1,
      kind: "gbdt",
      features: [...FEATURES],
      bias: 0,
      trees: [
        {
          feature: [0, -1, -1],
          threshold: [Math.log1p(1000), 0, 0],
          left: [1, -1, -1],
          right: [2, -1, -1],
          value: [0, -6, 1.4],
        },
      ],
      training: {
        from: "-",
        to: "-",
        rows: 0,
        fraud: 0,
        labels: "hand-made",
        options: {},
        trainingAuc: null,
      },
    };
    const valid = validateModel(document);
    expect(valid.ok).toBe(true);
    const version = modelVersion(valid.ok ? valid.model : (document as never));
    await p.db.query(
      "INSERT INTO artefacts (kind, version, document, summary) VALUES ('model', $1, $2, '{}')",
      [version, document],
    );
    await p.db.query("INSERT INTO artefact_activations (kind, version) VALUES ('model', $1)", [version]);
    try {
      const user = `model-user-${randomUUID().slice(0, 8)}`;
      await profile(user, "low");
      let review: Awaited<ReturnType<typeof post>> | undefined;
      // Consumers pick the model up within their 2 s poll.
      await expect
        .poll(
          async () => {
            review = await post(user, "1500.00");
            return review.decision.decision;
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe("review");
      expect(review!.decision.reasons).toEqual([
        "model_high_risk",
        `model ${version} score 0.8022: amount_log +1.40`,
      ]);
      const page: Page = await browser.newPage();
      await page.goto(`${p.base}/console`);
      await page.fill("#key", ANALYST);
      await page.click("button[type=submit]");
      const row = page.locator(`#queue-rows tr[data-transaction-id="${review!.transaction_id}"]`);
      await row.waitFor({ timeout: 10_000 });
      await row.click();
      await page.waitForSelector("#case-body:not([hidden])");
      const shown = page.locator("#case-reasons .reason.model");
      await expect.poll(() => shown.textContent()).toBe(`model ${version} · score 0.8022 · amount_log +1.40`);
      await page.close();
    } finally {
      await p.db.query(
        "UPDATE artefact_activations SET rolled_back_at = now() WHERE kind = 'model' AND version = $1",
        [version],
      );
    }
  });
});
