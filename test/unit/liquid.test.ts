import { describe, expect, test } from "bun:test";
import { buildVariables, checkLiquid, RenderError, renderLiquid } from "../../src/lib/liquid";

const vars = buildVariables({
  subscriber: {
    id: 7,
    email: "ada@example.com",
    first_name: "Ada",
    last_name: "Lovelace",
    tags: ["b", "a"],
    custom_data: { plan: "pro", email: "clash@example.com", nested: { deep: 1 } },
    created_at: Date.UTC(2026, 0, 15, 10, 30),
  },
  channel: { name: "Default", sender_name: "Team", sender_email: "team@example.com" },
  broadcast: { name: "Launch", subject: "Big news" },
  data: { order: { id: 99 } },
  unsubscribe_url: "https://mail.example.com/u/x",
  confirmation_url: "https://mail.example.com/c/y",
});

async function renderFails(source: string): Promise<RenderError> {
  try {
    await renderLiquid(source, vars);
  } catch (err) {
    expect(err).toBeInstanceOf(RenderError);
    return err as RenderError;
  }
  throw new Error(`expected ${source} to fail`);
}

describe("happy", () => {
  test("renders subscriber, shorthands, channel, broadcast, data and urls", async () => {
    const out = await renderLiquid(
      "{{ subscriber.email }}|{{ subscriber.full_name }}|{{ subscriber.id }}|{{ subscriber.tags | join: ',' }}|{{ subscriber.created_at }}|" +
        "{{ email }}|{{ first_name }} {{ last_name }}|{{ plan }}|{{ subscriber.custom_data.nested.deep }}|" +
        "{{ channel.name }}/{{ channel.sender_name }}/{{ channel.sender_email }}|{{ broadcast.name }}:{{ broadcast.subject }}|" +
        "{{ data.order.id }}|{{ unsubscribe_url }}|{{ confirmation_url }}",
      vars,
    );
    expect(out).toBe(
      "ada@example.com|Ada Lovelace|7|b,a|2026-01-15T10:30:00.000Z|ada@example.com|Ada Lovelace|pro|1|" +
        "Default/Team/team@example.com|Launch:Big news|99|https://mail.example.com/u/x|https://mail.example.com/c/y",
    );
  });

  test("a custom_data key never overrides a built-in shorthand", async () => {
    expect(await renderLiquid("{{ email }}", vars)).toBe("ada@example.com");
    expect(await renderLiquid("{{ subscriber.custom_data.email }}", vars)).toBe("clash@example.com");
  });

  test("undefined variables render empty", async () => {
    expect(await renderLiquid("[{{ nope }}][{{ subscriber.nope.deeper }}][{{ data.missing }}]", vars)).toBe("[][][]");
  });

  test("full_name falls back gracefully", async () => {
    const v = buildVariables({ subscriber: { email: "x@example.com", first_name: null, last_name: "Solo" } });
    expect(await renderLiquid("{{ subscriber.full_name }}|{{ first_name }}|{{ data.x }}", v)).toBe("Solo||");
  });

  test("filters and control flow work", async () => {
    expect(await renderLiquid("{% if plan == 'pro' %}{{ first_name | upcase }}{% endif %}{% for t in subscriber.tags %}-{{ t }}{% endfor %}", vars)).toBe(
      "ADA-b-a",
    );
  });

  test("valid templates pass checkLiquid", () => {
    expect(checkLiquid("Hello {{ first_name | default: 'there' }}")).toBeNull();
    expect(checkLiquid(null)).toBeNull();
    expect(checkLiquid("")).toBeNull();
  });
});

describe("errors", () => {
  test("syntax errors name the line", () => {
    expect(checkLiquid("line 1\nline 2\n{% if x %}unclosed")).toBe("Liquid syntax error: tag {% if x %} not closed, line 3");
    expect(checkLiquid("a\nb\n{% nosuchtag %}")).toBe('Liquid syntax error: tag "nosuchtag" not found, line 3');
    expect(checkLiquid("a\n{{ x ")).toMatch(/^Liquid syntax error: .*not closed, line 2$/);
    expect(checkLiquid("{{ x | nosuchfilter }}")).toMatch(/undefined filter: nosuchfilter, line 1/);
  });

  test("renderLiquid throws a typed RenderError on syntax errors", async () => {
    const err = await renderFails("{% if %}");
    expect(err.reason).toBe("syntax");
  });

  test("include, render and layout are refused", async () => {
    for (const src of ["{% include 'secrets' %}", "{% render '/etc/passwd' %}", "{% layout 'base' %}"]) {
      expect(checkLiquid(src)).toMatch(/is not allowed/);
      expect((await renderFails(src)).reason).toBe("syntax");
    }
  });

  test("prototype access renders nothing", async () => {
    expect(await renderLiquid("[{{ subscriber.constructor }}][{{ subscriber.__proto__ }}][{{ data.constructor.name }}][{{ subscriber.email.constructor }}]", vars)).toBe(
      "[][][][]",
    );
    expect(await renderLiquid("[{{ subscriber.hasOwnProperty }}][{{ subscriber.toString }}][{{ channel['__proto__'] }}]", vars)).toBe("[][][]");
  });

  test("a loop bomb is cut off by the limits, not hung", async () => {
    const start = performance.now();
    const err = await renderFails("{% for i in (1..3000) %}{% for j in (1..3000) %}{% for k in (1..3000) %}{% endfor %}{% endfor %}{% endfor %}");
    expect(err.reason).toBe("limit");
    expect(performance.now() - start).toBeLessThan(3000);
  });

  test("a huge range is refused by the memory limit", async () => {
    expect((await renderFails("{% for i in (1..1000000000) %}x{% endfor %}")).reason).toBe("limit");
  });

  test("huge output is cut off", async () => {
    const err = await renderFails("{% for i in (1..5000) %}{% for j in (1..5000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}");
    expect(err.reason).toBe("limit");
  });

  test("string doubling is cut off by the memory limit", async () => {
    const err = await renderFails("{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s.size }}");
    expect(err.reason).toBe("limit");
  });
});
