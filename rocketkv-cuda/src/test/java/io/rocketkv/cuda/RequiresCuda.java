package io.rocketkv.cuda;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test class that needs a CUDA device: tags it {@code gpu} (select with {@code --include-tag gpu}
 * or exclude with {@code -DexcludedGroups=gpu}) and skips it, with {@link CudaDriver#unavailableReason()}
 * as the reason, where CUDA is unavailable.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
@ExtendWith(RequiresCuda.Condition.class)
@interface RequiresCuda {

    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return CudaDriver.isAvailable()
                    ? ConditionEvaluationResult.enabled("CUDA device present")
                    : ConditionEvaluationResult.disabled("no CUDA here: " + CudaDriver.unavailableReason());
        }
    }
}
