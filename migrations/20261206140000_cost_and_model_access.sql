-- Providers (issue 22): what usage cost, and who may use which models.
--
-- The cost of a user's answers per UTC day, next to its tokens (priced by the model service at
-- the answering model's configured prices; 0 without a providers file), for `/auth/me` and
-- the optional QUOTA_USD_PER_DAY.
ALTER TABLE usage_daily ADD COLUMN cost_usd double precision NOT NULL DEFAULT 0;

-- The same per model and day (all users), for the admin dashboard's cost by model.
CREATE TABLE usage_model_daily (
    day                date NOT NULL,
    model              text NOT NULL,
    prompt_tokens      bigint NOT NULL DEFAULT 0,
    completion_tokens  bigint NOT NULL DEFAULT 0,
    requests           bigint NOT NULL DEFAULT 0,
    cost_usd           double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model)
);

-- The models and aliases an account or an API key may use; NULL = any. A key's list narrows
-- its owner's (a request must pass both).
ALTER TABLE users ADD COLUMN allowed_models text[];
ALTER TABLE api_keys ADD COLUMN allowed_models text[];
