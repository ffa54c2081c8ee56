package dev.sentinelstream.apicurio;

import io.apicurio.common.apps.config.DynamicConfigPropertyList;
import java.util.ArrayList;
import javax.enterprise.inject.Produces;
import javax.inject.Singleton;

/** What Apicurio's config-index Quarkus extension (not on Maven Central) would generate: no dynamic properties. */
@Singleton
public class ConfigIndexStandIns {
  @Produces
  @Singleton
  public DynamicConfigPropertyList dynamicConfigPropertyList() {
    return new DynamicConfigPropertyList(new ArrayList<>());
  }

}
