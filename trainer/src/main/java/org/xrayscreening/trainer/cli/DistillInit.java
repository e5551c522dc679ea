package org.xrayscreening.trainer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.xrayscreening.models.registry.ModelRef;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.trainer.training.Distillation;

/** {@code train --teacher}: checks the teacher and the distillation settings before any image is prepared. */
final class DistillInit {
    private DistillInit() {}

    static Distillation check(String teacher, Path registry, float weight, float temperature) throws IOException {
        if (!Files.isDirectory(registry)) {
            throw new IllegalArgumentException("--teacher-registry " + registry + " is not a folder");
        }
        ModelRef ref;
        try {
            ref = ModelRef.parse(teacher);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--teacher " + teacher + ": " + e.getMessage()
                    + " (expected <arch>@<version|alias|latest>)");
        }
        ModelRegistry reg = new ModelRegistry(registry);
        reg.verify(reg.resolve(ref.architecture(), ref.ref())); // missing or corrupt: fail now, not after decoding
        return Distillation.requested(teacher, registry.toAbsolutePath().normalize().toString(), weight, temperature);
    }
}
