/**
 * What other features do when subscribers change, without subscribers importing them (the layer
 * rule): the composition root (boot.ts) fills `deps.subscriberHooks`. Hooks run inside the
 * transaction of the change, so what they write commits or rolls back with it.
 */
import type { Db } from "@/db/client";
import type { Channel, Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";

export interface SubscriberHooks {
  /** After a subscriber row was written: `before` is null when it was created. */
  changed(deps: Deps, db: Db, channel: Channel, before: Subscriber | null, after: Subscriber): void;
  /** A form's automation enrolls the subscriber in these sequences (those of the channel, while active). */
  enroll(deps: Deps, db: Db, channel: Channel, subscriber: Subscriber, sequenceIds: readonly number[]): void;
}

