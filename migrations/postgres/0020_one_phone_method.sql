-- A phone is one method, whose codes come by text, call or WhatsApp as the person chooses:
-- `channel` is the way its codes go unless another is asked for (the one chosen at enrolment,
-- then the one of the code that last finished a login). Voice methods become phone methods
-- heard by call; a voice method beside a text one on the same number merges into it, keeping
-- the channel used last, the later use and the legacy send-on-login flag of either.
ALTER TABLE two_factor_methods ADD COLUMN channel TEXT;
UPDATE two_factor_methods SET channel = 'sms' WHERE kind = 'sms';
UPDATE two_factor_methods SET channel = 'call' WHERE kind = 'voice';

UPDATE two_factor_methods SET
    channel = 'call',
    last_used_at = (SELECT MAX(v.last_used_at) FROM two_factor_methods v
                    WHERE v.user_id = two_factor_methods.user_id AND v.kind = 'voice'
                      AND v.mobile_phone = two_factor_methods.mobile_phone)
WHERE kind = 'sms' AND EXISTS (
    SELECT 1 FROM two_factor_methods v
    WHERE v.user_id = two_factor_methods.user_id AND v.kind = 'voice'
      AND v.mobile_phone = two_factor_methods.mobile_phone
      AND v.last_used_at IS NOT NULL
      AND (two_factor_methods.last_used_at IS NULL OR v.last_used_at > two_factor_methods.last_used_at));
UPDATE two_factor_methods SET sends_code_on_login = 1
WHERE kind = 'sms' AND EXISTS (
    SELECT 1 FROM two_factor_methods v
    WHERE v.user_id = two_factor_methods.user_id AND v.kind = 'voice'
      AND v.mobile_phone = two_factor_methods.mobile_phone AND v.sends_code_on_login = 1);
DELETE FROM two_factor_methods
WHERE kind = 'voice' AND EXISTS (
    SELECT 1 FROM two_factor_methods s
    WHERE s.user_id = two_factor_methods.user_id AND s.kind = 'sms'
      AND s.mobile_phone = two_factor_methods.mobile_phone);
UPDATE two_factor_methods SET kind = 'sms' WHERE kind = 'voice';

-- Two phone methods of one user on one number (two voice methods, or two text ones) keep the
-- first enrolled; from now on a number is enrolled once per user.
DELETE FROM two_factor_methods
WHERE kind = 'sms' AND EXISTS (
    SELECT 1 FROM two_factor_methods o
    WHERE o.user_id = two_factor_methods.user_id AND o.kind = 'sms'
      AND o.mobile_phone = two_factor_methods.mobile_phone
      AND (o.created_at < two_factor_methods.created_at
           OR (o.created_at = two_factor_methods.created_at AND o.id < two_factor_methods.id)));
CREATE UNIQUE INDEX two_factor_methods_one_per_phone
    ON two_factor_methods (user_id, mobile_phone) WHERE kind = 'sms';
