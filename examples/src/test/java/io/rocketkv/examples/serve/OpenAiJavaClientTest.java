package io.rocketkv.examples.serve;

import io.rocketkv.api.chat.Message;
import io.rocketkv.api.chat.ChatTemplate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.ResponseFormatJsonObject;
import com.openai.models.ResponseFormatText;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official OpenAI Java client talks to the server: completions, chat, streamed chat, an error, and the fields
 * OpenAI SDKs send: each accepted one gives the answer the library gives for the same request ({@code n},
 * {@code logit_bias} and the penalties with their effect), and a value the server cannot honour is a 400 naming its
 * field.
 */
class OpenAiJavaClientTest {

    @TempDir
    static Path dir;
    static ServerFixture f;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        f = ServerFixture.start(dir, ChatTemplateTest.LLAMA3, 1 << 20, 1024);
        client = f.openAiClient();
    }

    @AfterAll
    static void stop() {
        client.close();
        f.close();
    }

    @Test
    void completion() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("tiny")
                .prompt("the cat and the hat").maxTokens(9).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());
        String direct = f.llm.generate("the cat and the hat", SamplingParams.builder().maxTokens(9).temperature(0.0)
                .ignoreEos(true).build()).output().text();
        assertEquals(direct, c.choices().getFirst().text());
        assertEquals(9, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void chatWholeAndStreamed() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model("tiny")
                .addUserMessage("the cat").maxTokens(7).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build();
        ChatCompletion whole = client.chat().completions().create(params);
        String text = whole.choices().getFirst().message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertEquals(text, streamed.toString());
        assertEquals(7, whole.usage().orElseThrow().completionTokens());
    }

    @Test
    void badRequestSurfacesAsTheClientsException() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("tiny").prompt("x").maxTokens(0).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("max_tokens"), e.getMessage());
    }

    private static SamplingParams greedy(int maxTokens) {
        return SamplingParams.builder().maxTokens(maxTokens).temperature(0.0).ignoreEos(true).build();
    }

    /** The library's greedy text for a prompt of token ids. */
    private static String direct(int[] ids, int maxTokens) {
        return f.llm.generateStream(ids, greedy(maxTokens), null).join().output().text();
    }

    private static String directChat(List<Message> messages, int maxTokens) {
        String rendered = ChatTemplate.fromTokenizerConfig(dir).render(messages, true);
        return direct(f.llm.tokenizer().encode(rendered, false), maxTokens);
    }

    private static CompletionCreateParams.Builder completion(int maxTokens) {
        return CompletionCreateParams.builder().model("tiny").maxTokens(maxTokens).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    private static ChatCompletionCreateParams.Builder chat(int maxTokens) {
        return ChatCompletionCreateParams.builder().model("tiny").maxCompletionTokens(maxTokens).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    @Test
    void completionWithTheSdksBookkeepingAndNoOpFields() {
        Completion c = client.completions().create(completion(6).prompt("the cat and the hat").user("user-1")
                .seed(7L).n(1L).presencePenalty(0.0).frequencyPenalty(0.0)
                .logitBias(CompletionCreateParams.LogitBias.builder().build())
                .putAdditionalBodyProperty("some_future_field", JsonValue.from("ignored")).build());
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", true);
        assertEquals(direct(ids, 6), c.choices().getFirst().text());
        assertEquals(6, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void chatWithASystemPromptMaxCompletionTokensAndTextResponseFormat() {
        ChatCompletion c = client.chat().completions().create(chat(7).addSystemMessage("Be brief.")
                .addUserMessage("the cat").user("user-1").seed(3L).presencePenalty(0.0).frequencyPenalty(0.0)
                .responseFormat(ResponseFormatText.builder().build()).build());
        String expected = directChat(List.of(Message.system("Be brief."), Message.user("the cat")), 7);
        assertEquals(expected, c.choices().getFirst().message().content().orElseThrow());
        assertEquals(7, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void contentPartsAreJoinedWithNewlines() {
        List<ChatCompletionContentPart> parts = List.of(
                ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text("the cat").build()),
                ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text("and the hat").build()));
        ChatCompletion c = client.chat().completions().create(chat(5).addUserMessageOfArrayOfContentParts(parts)
                .build());
        String expected = directChat(List.of(Message.user("the cat\nand the hat")), 5);
        assertEquals(expected, c.choices().getFirst().message().content().orElseThrow());
    }

    @Test
    void chatStreamWithUsageEndsWithAChunkOfNoChoicesAndTheUsage() {
        ChatCompletionCreateParams plain = chat(6).addUserMessage("the cat").build();
        ChatCompletionCreateParams params = plain.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        String whole = client.chat().completions().create(plain).choices().getFirst().message().content()
                .orElseThrow();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder text = new StringBuilder();
        for (ChatCompletionChunk ch : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(ch.usage().isEmpty(), "usage only on the last chunk");
            ch.choices().forEach(choice -> choice.delta().content().ifPresent(text::append));
        }
        assertEquals(whole, text.toString());
        ChatCompletionChunk last = chunks.getLast();
        assertTrue(last.choices().isEmpty(), "the usage chunk has no choices");
        CompletionUsage usage = last.usage().orElseThrow();
        assertEquals(6, usage.completionTokens());
        assertEquals(usage.promptTokens() + 6, usage.totalTokens());
    }

    @Test
    void completionStreamWithUsage() {
        CompletionCreateParams params = completion(5).prompt("the cat")
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        List<Completion> chunks = new ArrayList<>();
        try (StreamResponse<Completion> s = client.completions().createStreaming(params)) {
            s.stream().forEach(chunks::add);
        }
        StringBuilder text = new StringBuilder();
        chunks.forEach(ch -> ch.choices().forEach(choice -> text.append(choice.text())));
        assertEquals(direct(f.llm.tokenizer().encode("the cat", true), 5), text.toString());
        assertTrue(chunks.getLast().choices().isEmpty());
        assertEquals(5, chunks.getLast().usage().orElseThrow().completionTokens());
    }

    @Test
    void batchedPromptsGetOneChoiceEachInOrder() {
        List<String> prompts = List.of("the cat", "a hat and a bat", "the");
        Completion c = client.completions().create(completion(4).promptOfArrayOfStrings(prompts).build());
        assertEquals(3, c.choices().size());
        int promptTokens = 0;
        for (int i = 0; i < prompts.size(); i++) {
            int[] ids = f.llm.tokenizer().encode(prompts.get(i), true);
            promptTokens += ids.length;
            assertEquals(i, c.choices().get(i).index());
            assertEquals(direct(ids, 4), c.choices().get(i).text(), prompts.get(i));
        }
        assertEquals(promptTokens, c.usage().orElseThrow().promptTokens());
        assertEquals(12, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void tokenIdPromptsAreTakenAsSent() {
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", false); // no BOS: exactly these ids
        List<Long> asLongs = new ArrayList<>();
        for (int id : ids) {
            asLongs.add((long) id);
        }
        Completion one = client.completions().create(completion(5).promptOfArrayOfTokens(asLongs).build());
        assertEquals(direct(ids, 5), one.choices().getFirst().text());
        assertEquals(ids.length, one.usage().orElseThrow().promptTokens());
        Completion two = client.completions().create(completion(5)
                .promptOfArrayOfTokenArrays(List.of(asLongs, asLongs.subList(0, 2))).build());
        assertEquals(direct(ids, 5), two.choices().get(0).text());
        assertEquals(direct(new int[] {ids[0], ids[1]}, 5), two.choices().get(1).text());
    }

    /** The library's output for a prompt of token ids with {@code params} (the reference of the tests below). */
    private static RequestOutput library(int[] ids, SamplingParams params) {
        return f.llm.generateStream(ids, params, null).join();
    }

    @Test
    void nTwoWithSamplingGivesTwoChoicesAndCountsBoth() {
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", true);
        Completion c = client.completions().create(completion(5).prompt("the cat and the hat").temperature(1.0)
                .seed(11L).n(2L).build());
        RequestOutput expected = library(ids, greedy(5).toBuilder().temperature(1.0).seed(11L).n(2).build());
        assertEquals(2, c.choices().size());
        for (int j = 0; j < 2; j++) {
            assertEquals(j, c.choices().get(j).index());
            assertEquals(expected.outputs().get(j).text(), c.choices().get(j).text());
        }
        assertEquals(10, c.usage().orElseThrow().completionTokens()); // 5 tokens of each completion
        assertEquals(expected.metrics().generatedTokens(), c.usage().orElseThrow().completionTokens());
        ChatCompletion chat = client.chat().completions().create(chat(3).addUserMessage("the cat").temperature(1.0)
                .n(2L).build());
        assertEquals(2, chat.choices().size());
        assertEquals(6, chat.usage().orElseThrow().completionTokens());
    }

    @Test
    void nTwoWithGreedyDecodingIsRefusedNamingN() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.chat().completions()
                .create(chat(3).addUserMessage("x").n(2L).build())); // chat(3) sends temperature 0
        assertTrue(e.getMessage().contains("n") && e.getMessage().contains("needs sampling"), e.getMessage());
    }

    @Test
    void logitBiasMinusOneHundredBansTheGreedyTokenAndPlusOneHundredForcesOne() {
        int[] ids = f.llm.tokenizer().encode("the cat", true);
        int first = library(ids, greedy(1)).output().tokenIds()[0];
        int forced = f.llm.tokenizer().encode("hat", false)[0];
        assertTrue(forced != first, "the forced token must not be the greedy one");
        Completion banned = client.completions().create(completion(1).prompt("the cat")
                .logitBias(CompletionCreateParams.LogitBias.builder()
                        .putAdditionalProperty(Integer.toString(first), JsonValue.from(-100)).build()).build());
        RequestOutput withoutFirst = library(ids, greedy(1).toBuilder().logitBias(Map.of(first, -100f)).build());
        assertTrue(withoutFirst.output().tokenIds()[0] != first);
        assertEquals(withoutFirst.output().text(), banned.choices().getFirst().text());
        Completion pushed = client.completions().create(completion(1).prompt("the cat")
                .logitBias(CompletionCreateParams.LogitBias.builder()
                        .putAdditionalProperty(Integer.toString(forced), JsonValue.from(100)).build()).build());
        assertEquals(f.llm.tokenizer().decode(new int[] {forced}, true), pushed.choices().getFirst().text());
    }

    @Test
    void presenceAndFrequencyPenaltiesGiveTheLibrarysAnswer() {
        int[] ids = f.llm.tokenizer().encode("the cat and the hat", true);
        Completion c = client.completions().create(completion(12).prompt("the cat and the hat").presencePenalty(1.5)
                .frequencyPenalty(0.7).build());
        assertEquals(library(ids, greedy(12).toBuilder().presencePenalty(1.5).frequencyPenalty(0.7).build())
                .output().text(), c.choices().getFirst().text());
        Completion zero = client.completions().create(completion(12).prompt("the cat and the hat")
                .presencePenalty(0.0).frequencyPenalty(0.0).build());
        assertEquals(direct(ids, 12), zero.choices().getFirst().text()); // 0: no change
    }

    @Test
    void responseFormatJsonObjectIsRefusedNamingTheField() {
        assertRefused("response_format", () -> client.chat().completions().create(chat(3).addUserMessage("x")
                .responseFormat(ResponseFormatJsonObject.builder().build()).build()));
    }

    private static void assertRefused(String field, org.junit.jupiter.api.function.Executable call) {
        BadRequestException e = assertThrows(BadRequestException.class, call);
        assertTrue(e.getMessage().contains("'" + field + "'") && e.getMessage().contains("not supported"),
                e.getMessage());
    }
}
