-- The language a guardian reads a child's low-balance alert in (docs/meal-payments.md,
-- "Guardians"): the page's language when the guardian saves the alerts on the child's page, or
-- "language" in the API's body. NULL (alerts set before, or by the API without it) sends the
-- alert in Kazakh and Russian, one after the other.
ALTER TABLE guardians ADD COLUMN alert_language text CHECK (alert_language IN ('kk', 'ru', 'en'));
