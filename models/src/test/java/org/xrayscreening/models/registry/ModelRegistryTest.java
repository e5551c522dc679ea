package org.xrayscreening.models.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;

class ModelRegistryTest {
    private static final Architecture ARCH = Architecture.MOBILENET;
    private static final Instant T0 = Instant.parse("2026-11-26T05:47:17Z");

    @TempDir
    Path tmp;

    @Test
    void publishListAndResolve() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        assertThat(registry.list(ARCH)).isEmpty();
        assertThatThrownBy(() -> registry.resolve(ARCH, "latest")).isInstanceOf(ModelNotFoundException.class);

        // published out of name order: list follows createdAt
        ModelVersion b = registry.publish(ARCH, "b-older", staging("w1"), metadata(T0));
        ModelVersion a = registry.publish(ARCH, "a-newer", staging("w2"), metadata(T0.plusSeconds(60)));

        assertThat(registry.list(ARCH)).extracting(ModelVersion::version).containsExactly("b-older", "a-newer");
        assertThat(registry.resolve(ARCH, "latest")).isEqualTo(a);
        assertThat(registry.resolve(ARCH, "b-older")).isEqualTo(b);
        assertThat(registry.resolve(ModelRef.parse("mobilenet@b-older"))).isEqualTo(b);
        assertThat(registry.list(Architecture.RESNET50)).isEmpty();
        assertThatThrownBy(() -> registry.resolve(ARCH, "nope"))
                .isInstanceOf(ModelNotFoundException.class).hasMessageContaining("mobilenet@nope");

        assertThat(b.directory()).isEqualTo(registry.root().resolve("mobilenet").resolve("b-older"));
        assertThat(b.metadata().version()).isEqualTo("b-older");
        assertThat(b.metadata().files()).containsOnlyKeys("model-0000.params", "extra/labels.txt");
        assertThat(b.metadata().files().get("model-0000.params"))
                .isEqualTo(ModelRegistry.sha256(b.directory().resolve("model-0000.params")))
                .matches("[0-9a-f]{64}");
        registry.verify(b);
        registry.verify(a);
    }

    @Test
    void metadataJsonIsReadableAndRoundTrips() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v = registry.publish(ARCH, "v1", staging("w"), metadata(T0));
        String json = Files.readString(v.directory().resolve("metadata.json"));
        assertThat(json).contains("\"architecture\" : \"mobilenet\"", "\"createdAt\" : \"2026-11-26T05:47:17Z\"",
                "\"normalization\" : \"MINUS_ONE_TO_ONE\"", "\"covid\", \"non-covid\"", "\"auc\" : 0.9");
        assertThat(ModelMetadata.fromJson(json)).isEqualTo(v.metadata());
        // a newer writer's extra field does not break an older reader
        assertThat(ModelMetadata.fromJson(json.replaceFirst("\\{", "{ \"futureField\": 1,"))).isEqualTo(v.metadata());
    }

    @Test
    void autoVersionIsUtcTimestampPlusContentHash() throws Exception {
        Clock clock = Clock.fixed(T0, ZoneOffset.UTC);
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"), clock);
        ModelVersion v = registry.publish(ARCH, null, staging("w"), metadata(null));
        assertThat(v.version()).matches("20261126T054717Z-[0-9a-f]{8}");
        assertThat(v.metadata().createdAt()).isEqualTo(T0);
        // same content in the same second gets a distinct name, not an overwrite
        ModelVersion again = registry.publish(ARCH, null, staging("w"), metadata(null));
        assertThat(again.version()).isEqualTo(v.version() + "-2");
    }

    @Test
    void concurrentAutoPublishesGetDistinctNames() throws Exception {
        // fixed clock + identical content: every publisher starts from the same name
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"), Clock.fixed(T0, ZoneOffset.UTC));
        int n = 6;
        List<Path> stagings = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            stagings.add(staging("same"));
        }
        List<ModelVersion> published = runConcurrently(n, i -> registry.publish(ARCH, null, stagings.get(i), metadata(null)));
        Set<String> names = new HashSet<>();
        published.forEach(v -> names.add(v.version()));
        assertThat(names).hasSize(n);
        assertThat(registry.list(ARCH)).hasSize(n);
        for (ModelVersion v : registry.list(ARCH)) {
            registry.verify(v);
        }
        assertThat(leftovers(registry)).isEmpty();
    }

    @Test
    void concurrentPublishesOfOneExplicitVersionLetExactlyOneWin() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        int n = 4;
        List<Path> stagings = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            stagings.add(staging("content-" + i));
        }
        List<Object> outcomes = runConcurrently(n, i -> {
            try {
                return registry.publish(ARCH, "v1", stagings.get(i), metadata(T0));
            } catch (FileAlreadyExistsException e) {
                return e;
            }
        });
        assertThat(outcomes).filteredOn(o -> o instanceof ModelVersion).hasSize(1);
        assertThat(outcomes).filteredOn(o -> o instanceof FileAlreadyExistsException).hasSize(n - 1);
        registry.verify(registry.resolve(ARCH, "v1"));
        assertThat(leftovers(registry)).isEmpty();
    }

    @Test
    void refusesToOverwriteAVersion() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v1 = registry.publish(ARCH, "v1", staging("first"), metadata(T0));
        assertThatThrownBy(() -> registry.publish(ARCH, "v1", staging("second"), metadata(T0)))
                .isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining("mobilenet@v1 already exists");
        assertThat(Files.readString(v1.directory().resolve("model-0000.params"))).isEqualTo("first");
        registry.verify(registry.resolve(ARCH, "v1"));
        assertThat(leftovers(registry)).isEmpty();
    }

    @Test
    void tamperedMissingAndExtraFilesAreRefusedWithClearMessages() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v = registry.publish(ARCH, "v1", staging("weights"), metadata(T0));
        Path weights = v.directory().resolve("model-0000.params");
        String expected = v.metadata().files().get("model-0000.params");

        Files.writeString(weights, "weightz");
        String actual = ModelRegistry.sha256(weights);
        assertThatThrownBy(() -> registry.verify(v))
                .isInstanceOfSatisfying(ModelIntegrityException.class, e -> {
                    assertThat(e.file()).isEqualTo("model-0000.params");
                    assertThat(e.expectedSha256()).isEqualTo(expected);
                    assertThat(e.actualSha256()).isEqualTo(actual);
                })
                .hasMessageContaining("mobilenet@v1")
                .hasMessageContaining("sha256 mismatch for model-0000.params")
                .hasMessageContaining("expected " + expected)
                .hasMessageContaining("actual " + actual);

        Files.delete(weights);
        assertThatThrownBy(() -> registry.verify(v))
                .isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("file model-0000.params is missing");

        Files.writeString(weights, "weights");
        registry.verify(v);
        Files.writeString(v.directory().resolve("extra/smuggled.params"), "x");
        assertThatThrownBy(() -> registry.verify(v))
                .isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("unexpected file extra/smuggled.params");
        Files.delete(v.directory().resolve("extra/smuggled.params"));

        // metadata edited after the version was read (e.g. a threshold changed in place)
        Path meta = v.directory().resolve("metadata.json");
        Files.writeString(meta, Files.readString(meta).replace("\"decisionThreshold\" : 0.5", "\"decisionThreshold\" : 0.1"));
        assertThatThrownBy(() -> registry.verify(v))
                .isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("metadata.json differs");
    }

    @Test
    void halfWrittenAndForeignDirectoriesAreIgnored() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v1 = registry.publish(ARCH, "v1", staging("w"), metadata(T0));
        Path archDir = registry.root().resolve("mobilenet");
        // a publish that crashed before its rename, even after writing metadata.json
        Path crashed = Files.createDirectories(archDir.resolve(".tmp-publish-123"));
        Files.writeString(crashed.resolve("model-0000.params"), "partial");
        Files.writeString(crashed.resolve("metadata.json"),
                metadata(T0.plusSeconds(999)).withVersion("v9").toJson());
        // a directory without metadata.json, and one with garbage metadata
        Files.createDirectories(archDir.resolve("v2"));
        Files.writeString(Files.createDirectories(archDir.resolve("v3")).resolve("metadata.json"), "{ not json");

        assertThat(registry.list(ARCH)).containsExactly(v1);
        assertThat(registry.resolve(ARCH, "latest")).isEqualTo(v1);
    }

    @Test
    void aliases() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        ModelVersion v1 = registry.publish(ARCH, "v1", staging("1"), metadata(T0));
        ModelVersion v2 = registry.publish(ARCH, "v2", staging("2"), metadata(T0.plusSeconds(1)));

        assertThatThrownBy(() -> registry.resolve(ARCH, "production"))
                .isInstanceOf(ModelNotFoundException.class);
        assertThat(registry.setAlias(ARCH, "production", "v1")).isEqualTo(v1);
        assertThat(registry.resolve(ARCH, "production")).isEqualTo(v1);
        assertThat(registry.resolve(ModelRef.parse("mobilenet@production"))).isEqualTo(v1);

        registry.setAlias(ARCH, "production", "v2");
        assertThat(registry.resolve(ARCH, "production")).isEqualTo(v2);
        // "latest" is pinned at the time the alias is set
        registry.setAlias(ARCH, "canary", "latest");
        registry.publish(ARCH, "v3", staging("3"), metadata(T0.plusSeconds(2)));
        assertThat(registry.aliases(ARCH)).containsExactly(
                java.util.Map.entry("canary", "v2"), java.util.Map.entry("production", "v2"));
        assertThat(registry.list(ARCH)).extracting(ModelVersion::version).containsExactly("v1", "v2", "v3");

        assertThatThrownBy(() -> registry.setAlias(ARCH, "staging", "v9")).isInstanceOf(ModelNotFoundException.class);
        assertThatThrownBy(() -> registry.setAlias(ARCH, "latest", "v1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.setAlias(ARCH, "v1", "v2")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.publish(ARCH, "production", staging("p"), metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.setAlias(ARCH, "../escape", "v1")).isInstanceOf(IllegalArgumentException.class);
        assertThat(leftovers(registry)).isEmpty();
    }

    @Test
    void publishValidatesItsInputs() throws Exception {
        ModelRegistry registry = new ModelRegistry(tmp.resolve("registry"));
        Path withMetadata = staging("w");
        Files.writeString(withMetadata.resolve("metadata.json"), "{}");
        assertThatThrownBy(() -> registry.publish(ARCH, "v1", withMetadata, metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("metadata.json");
        assertThatThrownBy(() -> registry.publish(Architecture.RESNET50, "v1", staging("w"), metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("resnet50");
        assertThatThrownBy(() -> registry.publish(ARCH, "v1", Files.createTempDirectory(tmp, "empty"), metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no files");
        assertThatThrownBy(() -> registry.publish(ARCH, "a/b", staging("w"), metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> registry.publish(ARCH, "latest", staging("w"), metadata(T0)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(registry.list(ARCH)).isEmpty();
        assertThat(leftovers(registry)).isEmpty();
    }

    @Test
    void modelRefParsesAndFormats() throws Exception {
        assertThat(ModelRef.parse("mobilenet@production")).isEqualTo(ModelRef.of(ARCH, "production"));
        assertThat(ModelRef.parse("RESNET50@20261126T054717Z-3f2a9c1d").toString())
                .isEqualTo("resnet50@20261126T054717Z-3f2a9c1d");
        assertThat(ModelRef.parse("inceptionv3")).isEqualTo(ModelRef.latest(Architecture.INCEPTION_V3));
        assertThat(ModelRef.parse("xception@latest").isLatest()).isTrue();
        assertThatThrownBy(() -> ModelRef.parse("vgg16@v1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ModelRef.parse("mobilenet@../../etc")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ModelRef.parse("mobilenet@a@b")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ModelRef.parse("mobilenet@")).isInstanceOf(IllegalArgumentException.class);
        var mapper = ModelMetadata.objectMapper();
        assertThat(mapper.writeValueAsString(ModelRef.of(ARCH, "v1"))).isEqualTo("\"mobilenet@v1\"");
        assertThat(mapper.readValue("\"mobilenet@v1\"", ModelRef.class)).isEqualTo(ModelRef.of(ARCH, "v1"));
    }

    private interface Task<T> {
        T run(int i) throws Exception;
    }

    private static <T> List<T> runConcurrently(int n, Task<T> task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                futures.add(pool.submit((Callable<T>) () -> {
                    start.await();
                    return task.run(index);
                }));
            }
            start.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<Path> leftovers(ModelRegistry registry) throws Exception {
        Path archDir = registry.root().resolve("mobilenet");
        if (!Files.isDirectory(archDir)) {
            return List.of();
        }
        try (var walk = Files.walk(archDir)) {
            return walk.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList();
        }
    }

    private Path staging(String weights) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "staging");
        Files.writeString(dir.resolve("model-0000.params"), weights, StandardCharsets.UTF_8);
        Files.writeString(Files.createDirectories(dir.resolve("extra")).resolve("labels.txt"), "covid\nnon-covid\n");
        return dir;
    }

    private static ModelMetadata metadata(Instant createdAt) {
        return ModelMetadata.builder(ARCH, 224)
                .decisionThreshold(0.5)
                .trainingDataDigest("sha256:abc")
                .metric("auc", 0.9)
                .metric("accuracy", 0.85)
                .createdAt(createdAt)
                .command("trainer train --arch mobilenet")
                .notes("test")
                .build();
    }
}
