package io.rocketkv.examples.serve;

import static io.rocketkv.examples.serve.OpenAiServer.JSON;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.rocketkv.api.CompletionOutput;
import io.rocketkv.api.PromptLogprob;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.StreamChunk;
import io.rocketkv.core.tokenizer.Tokenizer;
import java.util.List;

/**
 * The JSON bodies of completion answers in OpenAI's shapes: the whole answer ({@code text_completion},
 * {@code chat.completion}), the streamed chunks ({@code chat.completion.chunk}), the usage-only last chunk of
 * {@code stream_options.include_usage}, and their {@code logprobs} and {@code usage} objects. A request of several
 * prompts (or with {@code n} completions) has one choice per completion, {@code index} = prompt × n + completion,
 * as in vLLM.
 */
final class ResponseBodies {

    private final Tokenizer tokenizer;
    private final String servedModel;

    ResponseBodies(Tokenizer tokenizer, String servedModel) {
        this.tokenizer = tokenizer;
        this.servedModel = servedModel;
    }

    /** The whole answer to a request whose prompts gave {@code outs}, in prompt order. */
    ObjectNode whole(CompletionRequest cr, List<RequestOutput> outs, String id, long created) {
        ObjectNode o = header(cr.chat() ? "chat.completion" : "text_completion", id, created);
        ArrayNode choices = o.putArray("choices");
        int n = cr.sampling().n();
        for (int p = 0; p < outs.size(); p++) {
            List<CompletionOutput> completions = outs.get(p).outputs();
            for (int j = 0; j < completions.size(); j++) {
                CompletionOutput c = completions.get(j);
                ObjectNode choice = choices.addObject();
                choice.put("index", p * n + j);
                if (cr.chat()) {
                    choice.putObject("message").put("role", "assistant").put("content", c.text());
                } else {
                    choice.put("text", c.text());
                }
                choice.set("logprobs", cr.logprobs() == null ? null : logprobs(cr.chat(), c.logprobs()));
                choice.put("finish_reason", c.finishReason());
                if (!cr.chat() && cr.sampling().promptLogprobs() != null) {
                    choice.set("prompt_logprobs", promptLogprobs(outs.get(p).promptLogprobs())); // vLLM: per choice
                }
            }
        }
        if (cr.chat() && cr.sampling().promptLogprobs() != null) {
            o.set("prompt_logprobs", promptLogprobs(outs.getFirst().promptLogprobs())); // vLLM: one per response
        }
        o.set("usage", usage(outs));
        return o;
    }

    /**
     * vLLM's {@code prompt_logprobs}: one entry per prompt token, the first null, each an object from token id to
     * {@code {"logprob", "rank", "decoded_token"}} holding the prompt token and the top alternatives.
     */
    private ArrayNode promptLogprobs(List<PromptLogprob> entries) {
        ArrayNode out = JSON.createArrayNode();
        for (PromptLogprob e : entries) {
            if (e == null) {
                out.addNull();
                continue;
            }
            ObjectNode at = out.addObject();
            for (int r = 0; r < e.top().size(); r++) {
                CompletionOutput.Alternative a = e.top().get(r);
                at.set(Integer.toString(a.tokenId()), logprobEntry(a.tokenId(), a.logprob(), r + 1));
            }
            at.set(Integer.toString(e.tokenId()), logprobEntry(e.tokenId(), e.logprob(), e.rank()));
        }
        return out;
    }

    private ObjectNode logprobEntry(int tokenId, float logprob, int rank) {
        return JSON.createObjectNode().put("logprob", logprob).put("rank", rank)
                .put("decoded_token", tokenText(tokenId));
    }

    /** OpenAI's {@code usage}, summed over the prompts, with the prompt tokens served from the prefix cache. */
    ObjectNode usage(List<RequestOutput> outs) {
        int prompt = 0;
        int generated = 0;
        int cached = 0;
        for (RequestOutput out : outs) {
            prompt += out.metrics().promptTokens();
            generated += out.metrics().generatedTokens();
            cached += out.metrics().numCachedTokens();
        }
        ObjectNode usage = JSON.createObjectNode();
        usage.put("prompt_tokens", prompt);
        usage.put("completion_tokens", generated);
        usage.put("total_tokens", prompt + generated);
        usage.putObject("prompt_tokens_details").put("cached_tokens", cached); // served from the prefix cache
        return usage;
    }

    /** The first chunk of a chat stream's choice: the assistant role. */
    ObjectNode roleChunk(CompletionRequest cr, String id, long created, int index) {
        ObjectNode delta = JSON.createObjectNode().put("role", "assistant").put("content", "");
        return chunk(cr, id, created, index, delta, null, null);
    }

    /** One streamed chunk (its {@code stream_interval} tokens) of choice {@code index}. */
    ObjectNode tokenChunk(CompletionRequest cr, String id, long created, int index, StreamChunk c) {
        ObjectNode lp = cr.logprobs() == null ? null : logprobs(cr.chat(), c.tokens());
        if (cr.chat()) {
            ObjectNode delta = JSON.createObjectNode();
            if (!c.textDelta().isEmpty() || c.finishReason() == null) {
                delta.put("content", c.textDelta());
            }
            return chunk(cr, id, created, index, delta, lp, c.finishReason());
        }
        return chunk(cr, id, created, index, JSON.getNodeFactory().textNode(c.textDelta()), lp, c.finishReason());
    }

    /** The last chunk of a stream with {@code include_usage}: no choices, the whole request's usage. */
    ObjectNode usageChunk(CompletionRequest cr, String id, long created, List<RequestOutput> outs) {
        ObjectNode o = header(cr.chat() ? "chat.completion.chunk" : "text_completion", id, created);
        o.putArray("choices");
        o.set("usage", usage(outs));
        return o;
    }

    /** A streamed chunk: chat's {@code delta} object or the completion's {@code text}. */
    private ObjectNode chunk(CompletionRequest cr, String id, long created, int index, JsonNode deltaOrText,
                             ObjectNode logprobs, String finishReason) {
        ObjectNode o = header(cr.chat() ? "chat.completion.chunk" : "text_completion", id, created);
        ObjectNode choice = o.putArray("choices").addObject();
        choice.put("index", index);
        choice.set(cr.chat() ? "delta" : "text", deltaOrText);
        choice.set("logprobs", logprobs);
        choice.put("finish_reason", finishReason);
        if (cr.includeUsage()) {
            o.putNull("usage"); // OpenAI: every chunk but the last has "usage": null
        }
        return o;
    }

    /** The {@code logprobs} object of {@code tokens}: chat's {@code content} list or the completions' arrays. */
    private ObjectNode logprobs(boolean chat, List<CompletionOutput.TokenLogprobs> entries) {
        ObjectNode lp = JSON.createObjectNode();
        if (chat) {
            var content = lp.putArray("content");
            for (CompletionOutput.TokenLogprobs t : entries) {
                addChatLogprob(content, t.tokenId(), t.logprob(), t.top());
            }
            return lp;
        }
        var tokens = lp.putArray("tokens");
        var tokenLogprobs = lp.putArray("token_logprobs");
        var tops = lp.putArray("top_logprobs");
        for (CompletionOutput.TokenLogprobs t : entries) {
            tokens.add(tokenText(t.tokenId()));
            tokenLogprobs.add(t.logprob());
            tops.add(completionTop(t.top()));
        }
        return lp;
    }

    /** One entry of chat's {@code logprobs.content}: the token, its logprob and its {@code top_logprobs}. */
    private void addChatLogprob(ArrayNode content, int tokenId, float logprob, List<CompletionOutput.Alternative> alts) {
        ObjectNode e = content.addObject();
        e.put("token", tokenText(tokenId));
        e.put("logprob", logprob);
        var top = e.putArray("top_logprobs");
        for (CompletionOutput.Alternative a : alts) {
            top.addObject().put("token", tokenText(a.tokenId())).put("logprob", a.logprob());
        }
    }

    /** One entry of the completions' {@code logprobs.top_logprobs}: token text → logprob, most likely first. */
    private ObjectNode completionTop(List<CompletionOutput.Alternative> alts) {
        ObjectNode top = JSON.createObjectNode();
        for (CompletionOutput.Alternative a : alts) {
            top.put(tokenText(a.tokenId()), a.logprob());
        }
        return top;
    }

    private String tokenText(int tokenId) {
        return tokenId < tokenizer.vocabSize() ? tokenizer.decode(new int[] {tokenId}, false) : "";
    }

    ObjectNode header(String object, String id, long created) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", servedModel);
        return o;
    }
}
