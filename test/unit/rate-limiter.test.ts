/**
 * The per-IP limiters of public pages are keyed by clients that keep changing: pruneEvery() keeps
 * only buckets that still hold something, at most once per window, and never forgets a refusal.
 */
import { expect, test } from "bun:test";
import { RateLimiter } from "@/auth/rate-limiter";

test("pruneEvery drops refilled buckets once per window and keeps the ones still in use", () => {
  const limiter = new RateLimiter<string>(60_000);
  for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`, 30, 0);
  for (let i = 0; i < 30; i++) limiter.take("203.0.113.9", 30, 59_000);
  expect(limiter.take("203.0.113.9", 30, 59_000).allowed).toBe(false);

  limiter.pruneEvery(1_000); // first call prunes: nothing has refilled yet (a token takes 2 s)
  expect(limiter.size).toBe(1001);
  limiter.pruneEvery(30_000); // within the window of the last prune: nothing happens
  expect(limiter.size).toBe(1001);
  limiter.pruneEvery(61_500); // a window later: the 1,000 refilled buckets go, the emptied one stays
  expect(limiter.size).toBe(1);
  expect(limiter.peek("203.0.113.9", 30, 61_500).remaining).toBe(1);
});
