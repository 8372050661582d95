"""Every way data comes in, checked whole before anything is written.

- `original`, `source`, `plan`: the original NestJS clock-in system (its database
  read-only, its rows mapped to ours);
- `timetable`: `timetable import`, a long file (`timetable_file`) or the original's
  grid sheet (`timetable_grid`), detected from the file;
- `people_csv`: the rows of a `users import` file;
- `spreadsheet`: the first sheet of an .xlsx/.xls as cell texts, bounded first
  (`xlsx_bounds`);
- `uids`: uids derived from display names, and the person a name in a file means.

Writing goes through `ImportStore`; `users import` writes the parsed rows through
`PeopleStore` from the CLI.
"""
