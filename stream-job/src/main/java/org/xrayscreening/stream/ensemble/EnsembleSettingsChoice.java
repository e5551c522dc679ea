package org.xrayscreening.stream.ensemble;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.stream.ModelSpec;

/**
 * The job's {@code --ensemble-settings}: {@code none} (the flag-configured policy), {@code latest} (the newest
 * published settings if the registry holds any, else the policy) or a version. Resolved once, when the job is
 * built, and shipped with the job graph: a restart from a checkpoint decides with the same settings, and settings
 * published later are picked up by the next submission (e.g. a savepoint upgrade), not by the running job.
 */
public final class EnsembleSettingsChoice {
    public static final String NONE = "none";
    public static final String LATEST = ModelRegistry.LATEST;
    private static final Logger LOG = LoggerFactory.getLogger(EnsembleSettingsChoice.class);

    private EnsembleSettingsChoice() {}

    /**
     * @return the settings, or null for the policy
     * @throws IllegalArgumentException for a version that does not exist or settings that fail their checksum
     *     (also under {@code latest}: a tampered newest version must not silently give way to an older one)
     */
    public static EnsembleSettings resolve(String choice, Path registryRoot, List<ModelSpec> models) {
        String c = choice == null ? LATEST : choice.trim();
        if (NONE.equalsIgnoreCase(c)) {
            LOG.info("ensemble: --ensemble-settings none, deciding by the --threshold/--indeterminate-band policy");
            return null;
        }
        EnsembleRegistry registry = new EnsembleRegistry(registryRoot);
        EnsembleSettings settings;
        try {
            if (LATEST.equals(c) && !registry.hasAny()) {
                LOG.info("ensemble: no ensemble settings in {}, deciding by the --threshold/--indeterminate-band policy",
                        registry.directory());
                return null;
            }
            settings = registry.resolve(c);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException("--ensemble-settings " + c + ": " + e.getMessage()
                    + " (--ensemble-settings none decides by the --threshold/--indeterminate-band policy)", e);
        }
        LOG.info("ensemble: deciding with {}", settings.describe());
        List<String> mismatches = mismatches(settings, new ModelRegistry(registryRoot), models);
        if (!mismatches.isEmpty()) {
            LOG.warn("ensemble settings {} were fit for other model versions than --models serves now ({}): studies"
                    + " scored by those versions are decided by the uncalibrated policy and counted in"
                    + " xray_ensemble_settings_fallbacks_total", settings.version(), String.join("; ", mismatches));
        }
        return settings;
    }

    /** The served models whose current version differs from the one the settings were fit for. */
    static List<String> mismatches(EnsembleSettings settings, ModelRegistry registry, List<ModelSpec> models) {
        List<String> out = new ArrayList<>();
        for (ModelSpec m : models) {
            String fitFor = settings.modelVersions().get(m.architecture().id());
            if (fitFor == null) {
                out.add(m.architecture().id() + " is not in the settings");
                continue;
            }
            try {
                ModelVersion now = registry.resolve(m.architecture(), m.ref());
                if (!now.version().equals(fitFor)) {
                    out.add(m + " is " + now + ", settings fit for " + m.architecture().id() + "@" + fitFor);
                }
            } catch (IOException | RuntimeException e) {
                // the model operators report a model they cannot load; nothing to compare here
                LOG.debug("cannot resolve {} to compare with the ensemble settings: {}", m, e.toString());
            }
        }
        return out;
    }
}
