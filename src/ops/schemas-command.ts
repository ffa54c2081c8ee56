import type { Config } from "../config.ts";
import { out } from "./output.ts";

/* `sentinel schemas register`: both schemas with SCHEMA_REGISTRY_URL, BACKWARD compatibility. */

export async function schemasRegisterCommand(config: Config): Promise<void> {
  const url = config.kafka.schemaRegistryUrl;
  if (!url) throw new Error("SCHEMA_REGISTRY_URL is not set: nothing to register with");
  const { createRegistryClient, registerSchemas } = await import("../kafka/schema-registry.ts");
  const registered = await registerSchemas(
    createRegistryClient(url, config.kafka.schemaRegistry),
    config.kafka.topics,
  );
  for (const r of registered) out(`${r.subject}: schema id ${r.id}, compatibility ${r.compatibility}`);
}
