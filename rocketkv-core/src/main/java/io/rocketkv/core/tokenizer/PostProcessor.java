package io.rocketkv.core.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code "post_processor"} of {@code tokenizer.json}: adds special tokens around the encoded ids
 * when {@code addSpecialTokens} is set. Only single sequences (no pairs); offsets are not tracked,
 * so ByteLevel's offset trimming is a no-op here.
 */
interface PostProcessor {

    int[] process(int[] ids, boolean addSpecialTokens);

    static PostProcessor fromJson(JsonNode node) {
        String type = JsonFields.type(node, "post_processor");
        return switch (type) {
            case "TemplateProcessing" -> TemplateProcessing.fromJson(node);
            case "ByteLevel" -> (ids, add) -> ids;
            case "BertProcessing", "RobertaProcessing" -> {
                JsonNode cls = JsonFields.array(node, "cls", type);
                JsonNode sep = JsonFields.array(node, "sep", type);
                yield new TemplateProcessing(List.of(new int[] {cls.get(1).asInt()}, null, new int[] {sep.get(1).asInt()}));
            }
            case "Sequence" -> {
                List<PostProcessor> steps = new ArrayList<>();
                for (JsonNode step : JsonFields.array(node, "processors", "Sequence post_processor")) {
                    steps.add(fromJson(step));
                }
                yield (ids, add) -> {
                    for (PostProcessor step : steps) {
                        ids = step.process(ids, add);
                    }
                    return ids;
                };
            }
            default -> throw TokenizerFormatException.unsupported("post_processor", type, "TemplateProcessing",
                    "ByteLevel", "BertProcessing", "RobertaProcessing", "Sequence");
        };
    }

    /**
     * The {@code "single"} template: a list of items, each a special token's ids or (null) the sequence.
     */
    record TemplateProcessing(List<int[]> items) implements PostProcessor {

        static TemplateProcessing fromJson(JsonNode node) {
            Map<String, int[]> specials = new HashMap<>();
            JsonNode specialTokens = node.get("special_tokens");
            if (specialTokens != null) {
                specialTokens.properties().forEach(e -> {
                    JsonNode ids = JsonFields.array(e.getValue(), "ids", "TemplateProcessing special token " + e.getKey());
                    int[] values = new int[ids.size()];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = ids.get(i).asInt();
                    }
                    specials.put(e.getKey(), values);
                });
            }
            List<int[]> items = new ArrayList<>();
            for (JsonNode piece : JsonFields.array(node, "single", "TemplateProcessing")) {
                if (piece.has("Sequence")) {
                    items.add(null);
                } else if (piece.has("SpecialToken")) {
                    String id = piece.get("SpecialToken").path("id").asText();
                    int[] ids = specials.get(id);
                    if (ids == null) {
                        throw new TokenizerFormatException("TemplateProcessing: special token '" + id
                                + "' is not listed in \"special_tokens\"");
                    }
                    items.add(ids);
                } else {
                    throw new TokenizerFormatException("TemplateProcessing: unknown template piece " + piece);
                }
            }
            return new TemplateProcessing(items);
        }

        @Override
        public int[] process(int[] ids, boolean addSpecialTokens) {
            if (!addSpecialTokens) {
                return ids;
            }
            IntArrayBuilder out = new IntArrayBuilder(ids.length + 4);
            for (int[] item : items) {
                out.addAll(item == null ? ids : item);
            }
            return out.toArray();
        }
    }
}
