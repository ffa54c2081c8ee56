import { createRequire } from "node:module";
import type { GroupMessagesPerPartition, ProduceRequest } from "../test/fork/kafkajs-under-test.ts";

/*
 * What building a produce request costs per message, with our kafkajs fork against pristine
 * kafkajs 2.2.4 (fork changes 8 and 9: the encoder's buffers, the grouping by partition), in this
 * process, alternating: a send of 1,000 transaction-sized messages over 12 partitions, grouped and
 * encoded as kafkajs's sendMessages does. `node bench/kafka-encode.ts`.
 */

type Message = { key: string; value: string; timestamp: string };
type Group = GroupMessagesPerPartition<Message>;

const require = createRequire(import.meta.url);
const PARTITIONS = 12;
const SEND = 1_000;

function sendOf(pkg: string): () => Promise<unknown> {
  const group = require(`${pkg}/src/producer/groupMessagesPerPartition.js`) as Group;
  const request = require(`${pkg}/src/protocol/requests/produce/v3/request.js`) as ProduceRequest;
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
    partitionId,
    leader: 1,
  }));
  const messages = Array.from({ length: SEND }, (_, i) => ({
    key: `user-${i}`,
    value: JSON.stringify({
      transaction_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      user_id: `user-${i}`,
      amount: "42.50",
      currency: "USD",
      merchant_category: "5411",
      country: "US",
      channel: "ecommerce",
    }),
    timestamp: String(1_796_500_000_000 + i),
  }));
  return () => {
    const byPartition = group({
      topic: "transactions",
      partitionMetadata,
      messages,
      partitioner: ({ message }) => Number(message.key.slice(5)) % PARTITIONS,
    });
    const partitions = Object.entries(byPartition).map(([p, m]) => ({
      partition: Number(p),
      firstSequence: 0,
      messages: m,
    }));
    return request({
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: "transactions", partitions }],
    }).encode();
  };
}

async function microsPerMessage(send: () => Promise<unknown>, sends: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < sends; i++) await send();
  return Number(process.hrtime.bigint() - started) / 1_000 / (sends * SEND);
}

const sides = { pristine: sendOf("kafkajs-pristine"), fork: sendOf("kafkajs") };
for (const send of Object.values(sides)) await microsPerMessage(send, 200); // warm-up: JIT
const runs: Record<keyof typeof sides, number[]> = { pristine: [], fork: [] };
for (let round = 0; round < 5; round++) {
  for (const [name, send] of Object.entries(sides) as Array<[keyof typeof sides, () => Promise<unknown>]>)
    runs[name].push(await microsPerMessage(send, 300));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, xs] of Object.entries(runs))
  console.log(`${name}: ${xs.map((x) => x.toFixed(2)).join(" · ")} µs per message`);
console.log(`kafka_encode_us_per_msg_pristine=${median(runs.pristine).toFixed(2)}`);
console.log(`kafka_encode_us_per_msg_fork=${median(runs.fork).toFixed(2)}`);
