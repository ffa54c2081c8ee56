import { randomUUID } from "node:crypto";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, findChromium } from "../support/browser.ts";
import { usePipeline } from "../support/pipeline.ts";

/*
 * Issue 37's console views in a real browser (Debian's chromium through playwright-core), with four
 * eyes on: the queue's priority, queue and age and its filters; the case view's model line, linked
 * cases, one-step snooze (a proposal here) and bulk resolution; the proposed changes panel, where
 * another admin approves the snooze; a supervisor's assign and escalate. No page error, no CSP
 * violation (the console's policy allows only its own scripts). Skipped when no chromium.
 */

const ANN = "ann-analyst-key-000001";
const SUE = "sue-supervisor-key-001";
const ALICE = "alice-admin-key-000001";
const executablePath = findChromium();

describe.skipIf(!executablePath)("the console's team views in Chromium", () => {
  const p = usePipeline({
    TOPIC_TRANSACTIONS_PARTITIONS: "1",
    AUTH_DISABLED: "",
    API_KEYS: `analyst:ann:${ANN},supervisor:sue:${SUE},admin:alice:${ALICE}`,
    APPROVALS_REQUIRED: "true",
  });
  let browser: Browser;
  const errors: string[] = [];
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function review(user: string, device: string, amount: string): Promise<string> {
    const id = randomUUID();
    const res = await p.request("POST", "/transaction", {
      key: ALICE,
      body: { transaction_id: id, user_id: user, amount, currency: "USD", device_id: device, country: "US" },
      headers: { prefer: "wait=10" },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { decision: { decision: string } }).decision.decision).toBe("review");
    return id;
  }

  /** A high-risk profile whose limits no test payment reaches: a large amount is a review. */
  async function highRisk(user: string) {
    const body = { risk_tier: "high", home_country: "US", currency: "USD" };
    const limits = { per_transaction_limit: "50000.00", daily_limit: "1000000.00" };
    const res = await p.request("PUT", `/users/${user}/profile`, {
      key: ALICE,
      body: { ...body, ...limits },
    });
    expect(res.status).toBe(200);
  }

  async function signIn(key: string, name: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${p.base}/console`);
    await page.fill("#key", key);
    await page.click("button[type=submit]");
    await page.waitForSelector("#app:not([hidden])");
    await expect.poll(() => page.textContent("#analyst")).toBe(name);
    return page;
  }

  it("queues, links, snoozes in one step (a proposal), resolves a user's cases at once; an admin approves the snooze", async () => {
    const tag = randomUUID().slice(0, 8);
    const [user, device] = [`team-${tag}`, `dev-${tag}`];
    await highRisk(user);
    const [first, second] = [await review(user, device, "1500.00"), await review(user, device, "2500.00")];

    const ann = await signIn(ANN, "ann");
    const row = ann.locator(`#queue-rows tr[data-transaction-id="${first}"]`);
    await row.waitFor({ timeout: 10_000 });
    // priority · queue · age, then the user.
    expect(Number(await row.locator("td").nth(0).textContent())).toBeGreaterThan(0);
    expect(["high", "standard"]).toContain(await row.locator("td").nth(1).textContent());
    await ann.selectOption("#assignee-filter", "mine");
    await expect.poll(() => row.count()).toBe(0);
    await ann.selectOption("#assignee-filter", "");
    await row.waitFor();
    await row.click();
    await ann.waitForSelector("#case-body:not([hidden])");
    await expect.poll(() => ann.textContent("#case-priority")).toMatch(/\d+ · (high|standard) · /);
    await expect.poll(() => ann.textContent("#case-model")).toBe("no model");
    await expect.poll(() => ann.locator("#linked-rows tr").count()).toBe(1);
    await expect.poll(() => ann.textContent("#linked-rows")).toContain("device");
    expect(await ann.isHidden("#supervise")).toBe(true);
    expect(await ann.isHidden("#show-changes")).toBe(true);

    // One step: this rule, this user, two weeks, why — under four eyes, a proposal.
    const rules = await ann.locator("#snooze-rule option").allTextContents();
    expect(rules).toContain("high_risk_large_amount");
    await ann.selectOption("#snooze-rule", "high_risk_large_amount");
    await ann.fill("#snooze-reason", "moves money for the family business");
    await ann.click("#snooze");
    await expect.poll(() => ann.textContent("#case-message")).toMatch(/^Proposed \(change [0-9a-f]{8}\)/);

    await ann.click("#bulk-user");
    await expect.poll(() => ann.textContent("#case-message")).toBe("Resolved 2 cases as fraud.");
    for (const id of [first, second])
      await expect.poll(() => ann.locator(`#queue-rows tr[data-transaction-id="${id}"]`).count()).toBe(0);

    // Another person (an admin) approves the snooze in the changes panel.
    const alice = await signIn(ALICE, "alice");
    await alice.click("#show-changes");
    const change = alice.locator("#changes-rows tr", { hasText: `user:${user}` });
    await change.waitFor();
    expect(await change.textContent()).toContain("snooze.create");
    await change.locator("button.approve").click();
    await expect
      .poll(() => alice.textContent("#changes-message"))
      .toContain("Approved and applied: snooze.create");
    const snoozes = (await (await p.request("GET", "/snoozes", { key: ALICE })).json()) as {
      snoozes: Array<{ entity_id: string; created_by: string }>;
    };
    expect(snoozes.snoozes).toContainEqual(expect.objectContaining({ entity_id: user, created_by: "ann" }));
    await ann.close();
    await alice.close();
  });

  it("lets a supervisor assign and escalate from the case view", async () => {
    const tag = randomUUID().slice(0, 8);
    const user = `sup-${tag}`;
    await highRisk(user);
    const id = await review(user, `d-${tag}`, "3000.00");
    const sue = await signIn(SUE, "sue");
    const row = sue.locator(`#queue-rows tr[data-transaction-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.click();
    await sue.waitForSelector("#supervise:not([hidden])");
    await sue.fill("#assign-to", "ann");
    await sue.click("#assign");
    await expect.poll(() => sue.textContent("#case-message")).toBe("Assigned to ann.");
    await expect.poll(() => sue.textContent("#case-assignee")).toBe("ann");
    await sue.fill("#escalate-reason", "looks like a mule");
    await sue.click("#escalate");
    await expect
      .poll(() => sue.textContent("#case-priority"))
      .toContain("escalated by sue: looks like a mule");
    await sue.selectOption("#queue-filter", "escalated");
    await expect.poll(() => row.locator("td").nth(1).textContent()).toBe("escalated");
    await sue.close();
    expect(errors).toEqual([]);
  });
});
