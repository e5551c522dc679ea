package org.xrayscreening.stream.testing;

import ai.djl.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;

/** Publishes randomly initialized (untrained) models: real networks and real inference, no training time. */
public final class TestModels {
    private TestModels() {}

    public static ModelVersion publishUntrained(ModelRegistry registry, Architecture architecture, int inputSize,
                                                String alias) throws Exception {
        Path staging = Files.createTempDirectory("staging-" + architecture.id());
        try (Model model = ModelExport.newModel(architecture, inputSize)) {
            ModelExport.save(model, staging);
        }
        ModelVersion version = registry.publish(architecture, null, staging,
                ModelMetadata.builder(architecture, inputSize).trainingDataDigest("untrained")
                        .command("test fixture").notes("untrained test model").build());
        if (alias != null) {
            registry.setAlias(architecture, alias, version.version());
        }
        return version;
    }
}
