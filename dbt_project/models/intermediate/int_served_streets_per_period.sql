-- Streets of the divisions served at D by a designated three-in-one centre (the centre's
-- street is its jurisdiction): where the 100% record filing target applies.
select distinct
    period,
    street_code
from {{ ref('int_three_in_one_centres_per_period') }}
where street_code is not null
