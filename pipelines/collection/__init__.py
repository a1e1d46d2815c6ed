"""What is collected, from whom and when: the catalogue (items, indicators, rules, themes), the
authorities, and the financial-year quarters with their deadlines. Imports no other stage."""
