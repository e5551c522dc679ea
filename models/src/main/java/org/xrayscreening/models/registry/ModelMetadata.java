package org.xrayscreening.models.registry;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.xrayscreening.models.Architecture;
import com.fasterxml.jackson.annotation.JsonIgnore;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.PreprocessingOptions;
import org.xrayscreening.models.preprocess.Preprocessor;

/**
 * Contents of a version's {@code metadata.json}: everything needed to use the weights correctly
 * (architecture, input size, normalization, class order, threshold) and to trace where they came from.
 * {@code version} and {@code files} (relative path -> sha256 hex) are filled in by
 * {@link ModelRegistry#publish}; the digests are what {@link ModelRegistry#verify} checks.
 *
 * @param classNames class order of the network's outputs; index 0 is COVID-19, which is what the
 *     inference API reports as the probability
 * @param decisionThreshold P(COVID-19) at or above which this model calls a study positive
 * @param trainingDataDigest digest of the training set (e.g. sha256 over the sorted image digests and labels)
 * @param command the command line that produced the weights, for reproduction
 * @param preprocessing masks and intensity equalisation the weights were trained with; every user of the model
 *     prepares its inputs through {@link #preprocessor()}. Absent in metadata written before it existed: read as
 *     {@link PreprocessingOptions#NONE}, which is what those models were trained with
 */
public record ModelMetadata(
        @JsonSerialize(using = ArchitectureIdSerializer.class)
        @JsonDeserialize(using = ArchitectureIdDeserializer.class)
        Architecture architecture,
        String version,
        int inputSize,
        Normalization normalization,
        List<String> classNames,
        double decisionThreshold,
        String trainingDataDigest,
        Map<String, Double> metrics,
        Instant createdAt,
        String command,
        String notes,
        Map<String, String> files,
        PreprocessingOptions preprocessing) {

    public static final List<String> DEFAULT_CLASS_NAMES = List.of("covid", "non-covid");
    /** Index of COVID-19 in {@link #classNames()} and in the network output. */
    public static final int COVID_INDEX = 0;

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            // a newer writer may add fields; an older reader must still load the model
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public ModelMetadata {
        Objects.requireNonNull(architecture, "architecture");
        if (version != null) {
            ModelRef.checkName(version, "version");
        }
        if (inputSize < 1) {
            throw new IllegalArgumentException("inputSize must be positive: " + inputSize);
        }
        if (normalization == null) {
            normalization = architecture.normalization();
        }
        classNames = classNames == null ? DEFAULT_CLASS_NAMES : List.copyOf(classNames);
        if (!(decisionThreshold >= 0.0 && decisionThreshold <= 1.0)) {
            throw new IllegalArgumentException("decisionThreshold must be in [0, 1]: " + decisionThreshold);
        }
        metrics = metrics == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(metrics));
        files = files == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(files));
        if (preprocessing == null) {
            preprocessing = PreprocessingOptions.NONE;
        }
    }

    /** Without conditioning options ({@link PreprocessingOptions#NONE}). */
    public ModelMetadata(Architecture architecture, String version, int inputSize, Normalization normalization,
                         List<String> classNames, double decisionThreshold, String trainingDataDigest,
                         Map<String, Double> metrics, Instant createdAt, String command, String notes,
                         Map<String, String> files) {
        this(architecture, version, inputSize, normalization, classNames, decisionThreshold, trainingDataDigest,
                metrics, createdAt, command, notes, files, PreprocessingOptions.NONE);
    }

    /**
     * The preprocessing these weights expect (normalization, input size, conditioning options): the one
     * factory the trainer's evaluation and the stream job both use, so they prepare inputs as training did.
     */
    @JsonIgnore
    public Preprocessor preprocessor() {
        return new Preprocessor(normalization, inputSize, preprocessing);
    }

    public static Builder builder(Architecture architecture, int inputSize) {
        return new Builder(architecture, inputSize);
    }

    public ModelMetadata withVersion(String newVersion) {
        return new ModelMetadata(architecture, newVersion, inputSize, normalization, classNames,
                decisionThreshold, trainingDataDigest, metrics, createdAt, command, notes, files, preprocessing);
    }

    public ModelMetadata withCreatedAt(Instant newCreatedAt) {
        return new ModelMetadata(architecture, version, inputSize, normalization, classNames,
                decisionThreshold, trainingDataDigest, metrics, newCreatedAt, command, notes, files, preprocessing);
    }

    public ModelMetadata withFiles(Map<String, String> newFiles) {
        return new ModelMetadata(architecture, version, inputSize, normalization, classNames,
                decisionThreshold, trainingDataDigest, metrics, createdAt, command, notes, newFiles, preprocessing);
    }

    /** The mapper that reads and writes metadata (ISO-8601 instants, sorted maps, unknown fields ignored). */
    public static ObjectMapper objectMapper() {
        return MAPPER;
    }

    public String toJson() {
        try {
            return MAPPER.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize model metadata", e);
        }
    }

    public static ModelMetadata fromJson(String json) throws IOException {
        return MAPPER.readValue(json, ModelMetadata.class);
    }

    public static ModelMetadata read(Path file) throws IOException {
        return MAPPER.readValue(file.toFile(), ModelMetadata.class);
    }

    /** Mutable builder for the fields a trainer knows; {@code version} and {@code files} come from publish. */
    public static final class Builder {
        private final Architecture architecture;
        private final int inputSize;
        private Normalization normalization;
        private List<String> classNames = DEFAULT_CLASS_NAMES;
        private double decisionThreshold = 0.5;
        private String trainingDataDigest;
        private final Map<String, Double> metrics = new LinkedHashMap<>();
        private Instant createdAt;
        private String command;
        private String notes;
        private PreprocessingOptions preprocessing = PreprocessingOptions.NONE;

        private Builder(Architecture architecture, int inputSize) {
            this.architecture = architecture;
            this.inputSize = inputSize;
        }

        public Builder normalization(Normalization value) {
            this.normalization = value;
            return this;
        }

        public Builder classNames(List<String> value) {
            this.classNames = value;
            return this;
        }

        public Builder decisionThreshold(double value) {
            this.decisionThreshold = value;
            return this;
        }

        public Builder trainingDataDigest(String value) {
            this.trainingDataDigest = value;
            return this;
        }

        public Builder metric(String name, double value) {
            this.metrics.put(name, value);
            return this;
        }

        public Builder metrics(Map<String, Double> values) {
            this.metrics.putAll(values);
            return this;
        }

        public Builder createdAt(Instant value) {
            this.createdAt = value;
            return this;
        }

        public Builder command(String value) {
            this.command = value;
            return this;
        }

        public Builder notes(String value) {
            this.notes = value;
            return this;
        }

        public Builder preprocessing(PreprocessingOptions value) {
            this.preprocessing = value;
            return this;
        }

        public ModelMetadata build() {
            return new ModelMetadata(architecture, null, inputSize, normalization, classNames,
                    decisionThreshold, trainingDataDigest, metrics, createdAt, command, notes, null, preprocessing);
        }
    }

    /** Writes the stable registry id ("inceptionv3"), not the Java enum name. */
    static final class ArchitectureIdSerializer extends JsonSerializer<Architecture> {
        @Override
        public void serialize(Architecture value, JsonGenerator gen, SerializerProvider serializers)
                throws IOException {
            gen.writeString(value.id());
        }
    }

    static final class ArchitectureIdDeserializer extends JsonDeserializer<Architecture> {
        @Override
        public Architecture deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
            try {
                return Architecture.fromId(p.getValueAsString());
            } catch (IllegalArgumentException e) {
                throw ctxt.weirdStringException(p.getValueAsString(), Architecture.class, e.getMessage());
            }
        }
    }
}
