package org.xrayscreening.models.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.preprocess.IntensityMethod;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.PreprocessingOptions;
import org.xrayscreening.models.preprocess.Preprocessor;

/** The preprocessing options are part of a model's metadata, and metadata from before them still loads. */
class ModelMetadataPreprocessingTest {
    private static final PreprocessingOptions CLAHE_MASKED =
            new PreprocessingOptions(IntensityMethod.CLAHE, 3.0, 4, 0.05, true);

    @TempDir
    Path tmp;

    private static ModelMetadata metadata(PreprocessingOptions options) {
        return ModelMetadata.builder(Architecture.RESNET50, 96)
                .decisionThreshold(0.4)
                .createdAt(Instant.parse("2026-12-03T19:00:00Z"))
                .preprocessing(options)
                .build();
    }

    @Test
    void optionsRoundTripThroughJsonAndTheRegistry() throws Exception {
        ModelMetadata m = metadata(CLAHE_MASKED);
        String json = m.toJson();
        JsonNode node = ModelMetadata.objectMapper().readTree(json).get("preprocessing");
        assertThat(node.get("intensity").asText()).isEqualTo("clahe");
        assertThat(node.get("claheClipLimit").asDouble()).isEqualTo(3.0);
        assertThat(node.get("claheTileGrid").asInt()).isEqualTo(4);
        assertThat(node.get("maskBorder").asDouble()).isEqualTo(0.05);
        assertThat(node.get("maskText").asBoolean()).isTrue();
        assertThat(node.has("none")).isFalse();
        assertThat(ModelMetadata.fromJson(json)).isEqualTo(m);

        Path staging = Files.createDirectories(tmp.resolve("staging"));
        Files.writeString(staging.resolve("model-0000.params"), "weights");
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v = registry.publish(Architecture.RESNET50, "v1", staging, m);
        ModelMetadata read = registry.resolve(Architecture.RESNET50, "v1").metadata();
        assertThat(read.preprocessing()).isEqualTo(CLAHE_MASKED);
        assertThat(read.preprocessor()).isEqualTo(new Preprocessor(Normalization.CAFFE, 96, CLAHE_MASKED));
        assertThat(v.metadata().withVersion("v2").preprocessing()).isEqualTo(CLAHE_MASKED);
    }

    @Test
    void metadataWrittenBeforeTheOptionsExistedReadsAsNone() throws Exception {
        // a metadata.json as published before this field existed (no "preprocessing")
        String old = """
                {
                  "architecture" : "mobilenet",
                  "version" : "20261126T054717Z-abc",
                  "inputSize" : 128,
                  "normalization" : "MINUS_ONE_TO_ONE",
                  "classNames" : [ "covid", "non-covid" ],
                  "decisionThreshold" : 0.5,
                  "metrics" : { },
                  "createdAt" : "2026-11-26T05:47:17Z",
                  "files" : { }
                }""";
        ModelMetadata m = ModelMetadata.fromJson(old);
        assertThat(m.preprocessing()).isEqualTo(PreprocessingOptions.NONE);
        assertThat(m.preprocessor()).isEqualTo(new Preprocessor(Normalization.MINUS_ONE_TO_ONE, 128));
        // and an explicit null, or a block naming only the method, reads with the defaults
        assertThat(ModelMetadata.fromJson(old.replace("\"files\"", "\"preprocessing\" : null, \"files\""))
                .preprocessing()).isEqualTo(PreprocessingOptions.NONE);
        PreprocessingOptions methodOnly = ModelMetadata.fromJson(old.replace("\"files\"",
                "\"preprocessing\" : { \"intensity\" : \"equalize\" }, \"files\"")).preprocessing();
        assertThat(methodOnly).isEqualTo(PreprocessingOptions.of(IntensityMethod.EQUALIZE, 0, false));
        assertThat(methodOnly.claheClipLimit()).isEqualTo(2.0);
        assertThat(methodOnly.claheTileGrid()).isEqualTo(8);
    }

    @Test
    void invalidOptionsAreRefusedWithClearMessages() {
        String json = metadata(CLAHE_MASKED).toJson();
        assertThatThrownBy(() -> ModelMetadata.fromJson(json.replace("\"clahe\"", "\"sharpen\"")))
                .hasMessageContaining("sharpen").hasMessageContaining("none, equalize, clahe");
        assertThatThrownBy(() -> ModelMetadata.fromJson(json.replace("0.05", "0.6")))
                .hasMessageContaining("border mask fraction");
        assertThatThrownBy(() -> PreprocessingOptions.of(IntensityMethod.NONE, -0.1, false))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PreprocessingOptions(IntensityMethod.CLAHE, 0.5, 8, 0, false))
                .hasMessageContaining("clip limit");
        assertThatThrownBy(() -> IntensityMethod.fromId(null)).isInstanceOf(IllegalArgumentException.class);
    }
}
