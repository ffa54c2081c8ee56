import type { Admin, AdminConfig, Kafka } from "kafkajs";

/**
 * Runs `fn` with a connected admin client and disconnects it afterwards, whatever happens.
 * @throws whatever connecting or `fn` throws.
 */
export async function withAdmin<T>(
  kafka: Kafka,
  fn: (admin: Admin) => Promise<T>,
  config?: AdminConfig,
): Promise<T> {
  const admin = kafka.admin(config);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
